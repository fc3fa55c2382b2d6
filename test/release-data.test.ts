import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { FIXTURE_HOOKS_DIR, releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

const CONTENT_MIGRATE = join(FIXTURE_HOOKS_DIR, "content-store-migrate.sh");

/** A kv node on 1.1.1 with an Alfresco-like content store inside its release dir (releaseData), and a catalog whose 1.3.0 rewrites that store before its own migration fails. */
async function nodeWithContentStore(mode: "copy" | "move"): Promise<{ node: SampleNode; catalog: string; store: (version: string) => string }> {
  const root = await makeTempDir();
  const catalog = await writeCustomCatalog(root, (releases) => {
    releaseOf(releases, "1.3.0").migrations.unshift({ name: "content-store", run: [CONTENT_MIGRATE] });
  });
  const node = await makeSampleNode(root, { minHealthyMs: 200, editService: (service) => void (service.releaseData = [{ path: "alf_data", mode }]) });
  const store = (version: string) => join(node.installRoot, "releases", version, "alf_data");
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--catalog", catalog]);
  expect(install.code, install.stderr).toBe(0);
  await mkdir(join(store("1.1.1"), "contentstore", "2026"), { recursive: true });
  await writeFile(join(store("1.1.1"), "contentstore", "2026", "doc-1.bin"), "first document\n");
  await writeFile(join(store("1.1.1"), "contentstore", "2026", "doc-2.bin"), Buffer.alloc(70_000, 7));
  await chmod(join(store("1.1.1"), "contentstore", "2026", "doc-2.bin"), 0o640);
  await symlink("contentstore/2026/doc-1.bin", join(store("1.1.1"), "latest"));
  await node.kv.put("greeting", "hello");
  return { node, catalog, store };
}

async function upgrade(node: SampleNode, catalog: string, to: string) {
  const result = await runHoist(["upgrade", "-c", node.configPath, "--to", to, "--catalog", catalog, "--json"]);
  return { code: result.code, outcome: JSON.parse(result.stdout) as { result: string; active: string }, stderr: result.stderr };
}

describe("data inside the release dir (releaseData: Alfresco's alf_data) carried into the new release, with the sample service's real tarballs", () => {
  it.each(["copy", "move"] as const)("%s: a failed upgrade that rewrote the store leaves the old release's store byte-identical; a good one carries it over verified", { timeout: 90_000 }, async (mode) => {
    const { node, catalog, store } = await nodeWithContentStore(mode);
    const before = await hashTree(store("1.1.1"));

    const failed = await upgrade(node, catalog, "1.3.0");
    expect(failed.code).toBe(1);
    expect(failed.outcome).toMatchObject({ result: "rolled-back", active: "1.1.1" });
    expect(await hashTree(store("1.1.1"))).toEqual(before);
    expect(await node.kv.all()).toEqual({ greeting: "hello" });

    const good = await upgrade(node, catalog, "2.0.0");
    expect(good.code, good.stderr).toBe(0);
    expect(good.outcome).toMatchObject({ result: "committed", active: "2.0.0" });
    expect(await hashTree(store("2.0.0"))).toEqual(before);
    expect(good.stderr).toMatch(new RegExp(`${mode === "copy" ? "copied" : "moved"} alf_data into 2\\.0\\.0 \\(2 files, 70015 bytes, verified\\)`));
    if (mode === "copy") expect(await hashTree(store("1.1.1"))).toEqual(before);
    else await expect(hashTree(store("1.1.1"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
