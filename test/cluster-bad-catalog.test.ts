import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { startCluster, writeCatalogVariant, type TestCluster } from "./helpers/cluster.ts";

type Release = Record<string, unknown> & { version: string; upgradeFrom?: string[] };

let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  dir = await makeFileTempDir();
  cluster = await startCluster(join(dir, "cluster"), { nodes: 2, version: "1.0.0", lifetime: "file" });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** Nothing happened on any node: no step recorded by an agent, every node still on 1.0.0, no rollout recorded. */
async function expectUntouched(): Promise<void> {
  for (const node of cluster.nodes) {
    expect(await node.recordedKeys()).toEqual([]);
    expect((await node.kv.version()).version).toBe("1.0.0");
    expect(await node.starts("1.1.0")).toBe(0);
  }
  expect(await cluster.rollout()).toBeUndefined();
}

const badCatalogs: [string, (releases: Release[]) => void, RegExp][] = [
  ["a version listed twice", (releases) => releases.splice(2, 0, { ...releases[1]!, upgradeFrom: ["1.0.0"] }), /services\.kv\.releases\.2\.version: 1\.1\.0 is listed twice \(also at services\.kv\.releases\.1\)/],
  [
    "an upgradeFrom naming a newer release (a cycle)",
    (releases) => (releases.find((release) => release.version === "1.0.0")!.upgradeFrom = ["1.1.0"]),
    /services\.kv\.releases\.0\.upgradeFrom\.0: 1\.1\.0 is not older than 1\.0\.0/,
  ],
];

describe("a catalog that is inconsistent across releases is refused at load, before any node is touched", () => {
  it.each(badCatalogs)("%s: plan and rollout start exit 2 naming the path", { timeout: 60_000 }, async (what, edit, problem) => {
    const catalog = await writeCatalogVariant(join(dir, `${what.replace(/\W+/g, "-")}.yaml`), (value) => edit(value.services.kv.releases as Release[]));
    for (const command of ["plan", "rollout"]) {
      const args = command === "plan" ? ["plan", "--catalog", catalog, "--cluster", cluster.cluster, "--service", "kv", "--to", "1.1.1"] : cluster.rolloutArgs("1.1.1").map((arg) => (arg === cluster.catalog ? catalog : arg));
      const result = await cluster.hoist(args, { timeoutMs: 50_000 });
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
      expect(result.stderr).toContain("[CONFIG_INVALID]");
      expect(result.stderr).toMatch(problem);
      expect(result.stderr).not.toContain("NO_UPGRADE_PATH");
    }
    await expectUntouched();
  });
});
