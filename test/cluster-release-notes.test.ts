import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, writeCatalogVariant, type TestCluster } from "./helpers/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const NOTES = "Compatibility: 2.0.0 stores keys one file each; 1.x cannot read the new format.\nPlugins built for 1.x must be rebuilt.";
const URL = "https://releases.example.com/kv/2.0.0/CHANGELOG.html#compatibility";

describe("release notes and confirmation (catalog notes, notesUrl, requireConfirm)", () => {
  it("`hoist plan` shows the hop's notes and URL and that it needs --confirm; `rollout start` without it refuses and touches nothing; with --confirm 2.0.0 it runs", { timeout: 120_000 }, async () => {
    const root = await makeTempDir();
    const catalog = await writeCatalogVariant(join(root, "catalog.yaml"), (edited) => {
      const release = edited.services.kv.releases.find((entry) => entry.version === "2.0.0")!;
      Object.assign(release, { notes: NOTES, notesUrl: URL, requireConfirm: true });
    });
    cluster = await startCluster(root, { nodes: 1, version: "1.1.1", catalog });

    const plan = await cluster.hoist(["plan", "--catalog", catalog, "--cluster", cluster.cluster, "--service", "kv", "--to", "2.0.0"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      [
        "Hop 1/1: 1.1.1 -> 2.0.0",
        "  notes: Compatibility: 2.0.0 stores keys one file each; 1.x cannot read the new format.",
        "         Plugins built for 1.x must be rebuilt.",
        `  release notes: ${URL}`,
        "  confirm: read the notes of 2.0.0; `rollout start` needs --confirm 2.0.0",
      ].join("\n"),
    );
    const json = await cluster.hoist(["plan", "--catalog", catalog, "--cluster", cluster.cluster, "--service", "kv", "--to", "2.0.0", "--json"]);
    expect(JSON.parse(json.stdout).hops[0]).toMatchObject({ notes: NOTES, notesUrl: URL, requireConfirm: true });

    const refused = await cluster.hoist(cluster.rolloutArgs("2.0.0", ["--catalog", catalog, "--confirm", "1.3.0"]));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`hoist: error [CONFIRMATION_REQUIRED]: the rollout goes through 2.0.0 (${URL}), which must be confirmed`);
    expect(refused.stderr).toContain("--confirm 2.0.0");
    expect(await cluster.rollout()).toBeUndefined();
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("1.1.1");

    const confirmed = await cluster.hoist(cluster.rolloutArgs("2.0.0", ["--catalog", catalog, "--confirm", "2.0.0"]));
    expect(confirmed.code, `${confirmed.stdout}\n${confirmed.stderr}`).toBe(0);
    expect((await cluster.rollout())!.phase).toBe("succeeded");
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("2.0.0");
  });
});
