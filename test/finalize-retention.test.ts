import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";
import { runHoist, type CliResult } from "./helpers/hoist-cli.ts";

/** A kv node keeping 2 releases and 1 snapshot, with a catalog where 1.1.0's store-schema-2 migration is permanent. */
async function permanentNode(): Promise<{ node: SampleNode; catalog: string }> {
  const root = await makeTempDir();
  const catalog = await writeCustomCatalog(root, (releases) => {
    for (const migration of releaseOf(releases, "1.1.0").migrations) if (migration.name === "store-schema-2") migration.permanent = true;
  });
  const node = await makeSampleNode(root, {
    minHealthyMs: 200,
    editService: (service) => {
      service.releases = { keep: 2 };
      service.snapshots = { keep: 1 };
    },
  });
  return { node, catalog };
}

function hoist(node: SampleNode, catalog: string, ...args: string[]): Promise<CliResult> {
  return runHoist([...args, "-c", node.configPath, ...(args[0] === "upgrade" ? ["--catalog", catalog] : [])]);
}

async function expectOk(run: Promise<CliResult>): Promise<CliResult> {
  const result = await run;
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

const releasesOnDisk = async (node: SampleNode) => (await readdir(join(node.installRoot, "releases"))).filter((name) => !name.startsWith(".")).sort();
const snapshotsOnDisk = async (node: SampleNode) => (await readdir(join(node.config.stateDir, "services", "kv", "snapshots"))).filter((name) => !name.startsWith(".")).sort();
const finalizeState = async (node: SampleNode) =>
  JSON.parse(await readFile(join(node.config.stateDir, "services", "kv", "finalize.json"), "utf8")) as { pending: { release: string; before: string; snapshotId: string }[]; finalized: { release: string }[] };

describe("finalize and retention (permanent migrations, releases.keep, snapshots.keep) with the sample service's real tarballs", () => {
  it(
    "keeps the release before a permanent migration and its snapshot beyond the counts until `hoist finalize`, rollback works until then; finalize removes them, and later retention keeps only the last K",
    { timeout: 120_000 },
    async () => {
      const { node, catalog } = await permanentNode();
      await expectOk(hoist(node, catalog, "upgrade", "--to", "1.0.0"));
      await node.kv.put("greeting", "hello");

      // Before finalize, rollback across the permanent migration works and takes the data back.
      await expectOk(hoist(node, catalog, "upgrade", "--to", "1.1.0"));
      expect((await finalizeState(node)).pending).toMatchObject([{ release: "1.1.0", before: "1.0.0" }]);
      await expectOk(hoist(node, catalog, "rollback"));
      expect(await node.kv.version()).toMatchObject({ version: "1.0.0", schema: 1 });
      expect(await node.kv.all()).toEqual({ greeting: "hello" });
      expect((await finalizeState(node)).pending).toEqual([]);

      await expectOk(hoist(node, catalog, "upgrade", "--to", "1.1.0"));
      const [pending] = (await finalizeState(node)).pending;
      await expectOk(hoist(node, catalog, "upgrade", "--to", "1.1.1"));
      await expectOk(hoist(node, catalog, "upgrade", "--to", "2.0.0"));
      // keep 2 releases, 1 snapshot: 1.1.0 went; 1.0.0 and the snapshot before 1.1.0 stay for the pending finalize,
      // 1.1.1 and the snapshot before 2.0.0 for a rollback of the last upgrade, 2.0.0 is active.
      expect(await releasesOnDisk(node)).toEqual(["1.0.0", "1.1.1", "2.0.0"]);
      const snapshots = await snapshotsOnDisk(node);
      expect(snapshots).toHaveLength(2);
      expect(snapshots).toContain(pending!.snapshotId);

      const finalized = await expectOk(hoist(node, catalog, "finalize"));
      expect(finalized.stdout).toContain("kv: finalized 1.1.0 (rollback to 1.0.0 is no longer possible)");
      expect(finalized.stdout).toContain(`snapshot ${pending!.snapshotId}`);
      expect(await releasesOnDisk(node)).toEqual(["1.1.1", "2.0.0"]);
      expect(await snapshotsOnDisk(node)).toEqual(snapshots.filter((id) => id !== pending!.snapshotId));
      expect(await node.kv.all()).toEqual({ greeting: "hello" });

      const again = await hoist(node, catalog, "finalize");
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("[WRONG_STATE]: nothing to finalize for kv");
    },
  );

  it("after `hoist finalize`, rollback to before the finalized release is refused with FINALIZED and changes nothing", { timeout: 60_000 }, async () => {
    const { node, catalog } = await permanentNode();
    await expectOk(hoist(node, catalog, "upgrade", "--to", "1.0.0"));
    await node.kv.put("greeting", "hello");
    await expectOk(hoist(node, catalog, "upgrade", "--to", "1.1.0"));
    await expectOk(hoist(node, catalog, "finalize"));
    expect((await finalizeState(node)).finalized).toMatchObject([{ release: "1.1.0" }]);

    const refused = await hoist(node, catalog, "rollback");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[FINALIZED\]: kv 1\.1\.0 was finalized \(.+\): its permanent migrations cannot be undone, so rollback to 1\.0\.0 is refused/);
    expect(await node.kv.version()).toMatchObject({ version: "1.1.0", schema: 2 });
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });
});
