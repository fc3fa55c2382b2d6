import { appendFile, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { extractSampleRelease } from "./helpers/sample-service.ts";
import { describeFile } from "./helpers/tar-writer.ts";
import { writeCatalogVariant } from "./helpers/cluster.ts";
import { FIXTURE_HOOKS_DIR } from "./helpers/custom-catalog.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

/** 1.1.2: 1.1.1's files with lib/admin.mjs changed (a module update), listed as a patch hop. */
async function patchCatalog(dir: string): Promise<string> {
  const tree = await extractSampleRelease("1.1.1", join(dir, "kv-1.1.2"));
  await appendFile(join(tree, "lib", "admin.mjs"), "// patched 1.1.2\n");
  await writeFile(join(tree, "VERSION"), "1.1.2\n");
  const release = JSON.parse(await readFile(join(tree, "release.json"), "utf8"));
  await writeFile(join(tree, "release.json"), `${JSON.stringify({ ...release, version: "1.1.2" }, null, 2)}\n`);
  const tarball = join(dir, "kv-1.1.2.tar.gz");
  await tar.c({ gzip: true, file: tarball, cwd: tree, portable: true }, (await readdir(tree)).sort());
  const { sha256, size } = await describeFile(tarball);
  return writeCatalogVariant(join(dir, "catalog.yaml"), (catalog) => {
    const releases = catalog.services.kv.releases;
    releases.splice(releases.findIndex((entry) => entry.version === "1.1.1") + 1, 0, { version: "1.1.2", artifact: { url: tarball, sha256, size }, upgradeFrom: ["1.1.1"], minor: true, kind: "patch" });
  });
}

async function patchNode(reload: "ok" | "fail"): Promise<{ node: SampleNode; catalog: string; before: Record<string, string>; pid: number; reloads: () => Promise<string> }> {
  const root = await makeTempDir();
  const catalog = await patchCatalog(root);
  const node = await makeSampleNode(root, { minHealthyMs: 200, editService: (service) => void (service.hooks.reload = { run: [join(FIXTURE_HOOKS_DIR, "reload-check.sh"), reload] }) });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--catalog", catalog]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("greeting", "hello");
  return { node, catalog, before: await hashTree(join(node.installRoot, "releases", "1.1.1")), pid: (await node.kv.version()).pid, reloads: () => readFile(join(node.runDir, "reload.log"), "utf8").catch(() => "") };
}

describe("patch hop (ejabberd module update): only the changed files, reload instead of stop/start", () => {
  it("replaces only the 3 files that differ, reloads the running service (same process), verifies, and points current at 1.1.2; 1.1.1 keeps its own files", { timeout: 60_000 }, async () => {
    const { node, catalog, before, pid, reloads } = await patchNode("ok");
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.2", "--catalog", catalog]);
    expect(upgrade.code, `${upgrade.stdout}\n${upgrade.stderr}`).toBe(0);
    expect(upgrade.stderr).toMatch(/replacing 3 changed file\(s\) of 1\.1\.1 in place: VERSION \(sha256 [0-9a-f]{12}\), lib\/admin\.mjs \(sha256 [0-9a-f]{12}\), release\.json \(sha256 [0-9a-f]{12}\)/);
    expect(upgrade.stderr).not.toContain("running stop hook");
    expect(await reloads()).toBe("patched\n");
    expect((await node.kv.version()).pid).toBe(pid);
    expect(await readFile(join(node.runDir, "kv.log"), "utf8")).not.toContain("starting kv 1.1.2");
    expect(await readlink(join(node.installRoot, "current"))).toMatch(/1\.1\.2$/);
    expect(await hashTree(join(node.installRoot, "releases", "1.1.1"))).toEqual(before);
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });

  it("a reload that fails on the patched files puts the originals back, reloads them and stays on 1.1.1 (rolled-back, same process)", { timeout: 60_000 }, async () => {
    const { node, catalog, before, pid, reloads } = await patchNode("fail");
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.2", "--catalog", catalog, "--json"]);
    expect(upgrade.code).toBe(1);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "rolled-back", active: "1.1.1", error: { code: "HOOK_FAILED" } });
    expect(await reloads()).toBe("patched\noriginal\n");
    expect(await hashTree(join(node.installRoot, "releases", "1.1.1"))).toEqual(before);
    expect(await readlink(join(node.installRoot, "current"))).toMatch(/1\.1\.1$/);
    expect((await node.kv.version()).pid).toBe(pid);
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });
});
