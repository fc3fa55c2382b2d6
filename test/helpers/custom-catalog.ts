import { readFile, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { sampleCatalogPath } from "./sample-service.ts";

interface CatalogRelease {
  version: string;
  artifact: { url: string; sha256: string; size?: number };
  migrations: { name: string; run: string[]; scope?: string; timeoutMs?: number; permanent?: boolean; when?: string }[];
  [key: string]: unknown;
}

/** The kv catalog as plain data, with artifact urls made absolute so it can live anywhere. */
export async function readSampleCatalog(): Promise<{ services: { kv: { releases: CatalogRelease[] } } }> {
  const path = sampleCatalogPath();
  const catalog = parse(await readFile(path, "utf8")) as { services: { kv: { releases: CatalogRelease[] } } };
  for (const release of catalog.services.kv.releases) {
    if (!isAbsolute(release.artifact.url) && !/^https?:/.test(release.artifact.url)) release.artifact.url = resolve(dirname(path), release.artifact.url);
  }
  return catalog;
}

/**
 * Writes a copy of the kv catalog into `dir` after `change` edited its releases (e.g. to add a
 * migration of the test's own) and returns its path.
 */
export async function writeCustomCatalog(dir: string, change: (releases: CatalogRelease[]) => void): Promise<string> {
  const catalog = await readSampleCatalog();
  change(catalog.services.kv.releases);
  const path = join(dir, "catalog.yaml");
  await writeFile(path, stringify(catalog));
  return path;
}

/** The release `version` of a catalog being edited (throws when it is missing). */
export function releaseOf(releases: CatalogRelease[], version: string): CatalogRelease {
  const release = releases.find((candidate) => candidate.version === version);
  if (!release) throw new Error(`no release ${version} in the kv catalog`);
  return release;
}

export const FIXTURE_HOOKS_DIR = join(import.meta.dirname, "..", "fixtures", "hooks");
