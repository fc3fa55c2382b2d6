import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tar from "tar";
import { extractSampleRelease } from "./sample-service.ts";
import { describeFile } from "./tar-writer.ts";
import { writeCatalogVariant } from "./cluster.ts";

/**
 * A catalog (the sample one plus `version`, a minor hop from 1.1.1) whose `version` release is
 * 1.1.1's files with `release.json` fault "flapping": it passes a short verify, then its /healthz
 * flips every second. Built from the sample tarball into `dir`; the shared sample releases are
 * not changed.
 */
export async function writeFlappingCatalog(dir: string, version = "1.1.2"): Promise<string> {
  const tree = await extractSampleRelease("1.1.1", join(dir, `kv-${version}`));
  const release = JSON.parse(await readFile(join(tree, "release.json"), "utf8"));
  await writeFile(join(tree, "release.json"), `${JSON.stringify({ ...release, version, fault: "flapping" }, null, 2)}\n`);
  await writeFile(join(tree, "VERSION"), `${version}\n`);
  const tarball = join(dir, `kv-${version}.tar.gz`);
  await tar.c({ gzip: true, file: tarball, cwd: tree, portable: true }, (await readdir(tree)).sort());
  const { sha256, size } = await describeFile(tarball);
  return writeCatalogVariant(join(dir, "catalog-flapping.yaml"), (catalog) => {
    const releases = catalog.services.kv.releases;
    const after = releases.findIndex((entry) => entry.version === "1.1.1");
    releases.splice(after + 1, 0, { version, artifact: { url: tarball, sha256, size }, upgradeFrom: ["1.1.1"], minor: true });
  });
}
