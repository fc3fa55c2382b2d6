import { cp, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { extractSampleRelease } from "./helpers/sample-service.ts";
import { describeFile } from "./helpers/tar-writer.ts";
import { writeCatalogVariant } from "./helpers/cluster.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

/**
 * A catalog where 1.1.1's package ships 1.1.0's upgrade scripts too (Seafile's upgrade/ dir) and
 * says so (includesEarlierMigrations), and 1.1.0's artifact does not exist: fetching it would fail.
 */
async function seafileStyleCatalog(dir: string): Promise<string> {
  const tree = await extractSampleRelease("1.1.1", join(dir, "kv-1.1.1"));
  const earlier = await extractSampleRelease("1.1.0", join(dir, "kv-1.1.0"));
  await cp(join(earlier, "upgrade"), join(tree, "upgrade"), { recursive: true });
  const tarball = join(dir, "kv-1.1.1-with-upgrade-scripts.tar.gz");
  await tar.c({ gzip: true, file: tarball, cwd: tree, portable: true }, (await readdir(tree)).sort());
  const { sha256, size } = await describeFile(tarball);
  return writeCatalogVariant(join(dir, "catalog.yaml"), (catalog) => {
    const releases = catalog.services.kv.releases;
    const intermediate = releases.find((entry) => entry.version === "1.1.0")!;
    (intermediate.artifact as { url: string }).url = join(dir, "never-downloaded", "kv-1.1.0.tar.gz");
    Object.assign(
      releases.find((entry) => entry.version === "1.1.1")!,
      { artifact: { url: tarball, sha256, size }, includesEarlierMigrations: true },
    );
  });
}

describe("migrations from the target package (Seafile: only the target is downloaded)", () => {
  it("1.0.0 -> 1.1.1 fetches only 1.1.1 and runs 1.1.0's migrations from 1.1.1's package, in order; the data ends migrated", { timeout: 60_000 }, async () => {
    const root = await makeTempDir();
    const catalog = await seafileStyleCatalog(root);
    const sharedDb = join(root, "shared-db.log");
    const node = await makeSampleNode(root, { minHealthyMs: 200, sharedDb });
    const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0", "--catalog", catalog]);
    expect(install.code, install.stderr).toBe(0);
    await node.kv.put("greeting", "hello");

    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--catalog", catalog, "--json"]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const outcome = JSON.parse(upgrade.stdout);
    expect(outcome).toMatchObject({ result: "committed", from: "1.0.0", to: "1.1.1", hops: [{ from: "1.0.0", to: "1.1.1" }] });
    expect(await node.kv.version()).toMatchObject({ version: "1.1.1", schema: 2 });
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
    expect(JSON.parse(await readFile(join(node.dataDir, "store.json"), "utf8")).schema).toBe(2);
    expect((await readFile(sharedDb, "utf8")).trim()).toMatch(/^1\.1\.0 migrated by node-1 at /);
    // 1.1.0 was never fetched nor unpacked
    expect((await readdir(join(node.installRoot, "releases"))).filter((name) => !name.startsWith(".")).sort()).toEqual(["1.0.0", "1.1.1"]);
    expect(upgrade.stderr).toContain("1.0.0 -> 1.1.1: running 1.1.0/store-schema-2");
  });
});
