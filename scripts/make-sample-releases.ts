/**
 * Builds the kv sample service (test/fixtures/sample-service) into real release tarballs and a
 * catalog, the inputs of Hoist's tests and demo:
 *
 *   node --import tsx scripts/make-sample-releases.ts [--out DIR] [--force]
 *
 * Writes `kv-VERSION.tar.gz` per release (root of the tarball = release root) and `catalog.yaml`
 * into DIR (default `.cache/sample-releases` in the repo). Tarballs are deterministic (portable
 * headers, fixed mtime, sorted entries, modes set here) so their sha256 is stable between runs.
 * A hash of the sources is stored beside the output; when it still matches, nothing is rebuilt.
 */
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as tar from "tar";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { catalogSchema } from "../shared/catalog/index.ts";
import { writeFileAtomic } from "../shared/fs/index.ts";

const REPO_ROOT = resolve(import.meta.dirname, "..");

/** Sources of the sample service: one server and one set of scripts for every release. */
export const SAMPLE_SOURCE_DIR = join(REPO_ROOT, "test", "fixtures", "sample-service");

/** Where the releases go unless told otherwise. */
export const DEFAULT_SAMPLE_OUT_DIR = join(REPO_ROOT, ".cache", "sample-releases");

export const SAMPLE_SERVICE_NAME = "kv";
export const SAMPLE_CATALOG_FILE = "catalog.yaml";
const SOURCE_HASH_FILE = ".source-hash";

/** Every entry of every tarball carries this mtime, so the bytes do not depend on the checkout. */
const FIXED_MTIME = new Date("2024-01-01T00:00:00Z");

export interface SampleMigration {
  name: string;
  /** File under the sources' upgrade/ dir; shipped as upgrade/FILE in the release. */
  file: string;
  scope: "node" | "cluster-once";
}

export interface SampleRelease {
  version: string;
  /** The one data schema this version reads and writes; others are refused with FATAL. */
  schema: number;
  upgradeFrom: string[];
  minor?: boolean;
  rolling?: boolean;
  fullStopReason?: string;
  /** A simulated fault of a broken release. */
  fault?: "crash-after-start";
  migrations: SampleMigration[];
}

/**
 * The releases, oldest first (catalog order decides upgrade versus downgrade). The broken 1.2.0
 * and 1.3.0 come before 2.0.0 so that going from them to 2.0.0 is never mistaken for a downgrade,
 * and 2.0.0 -> 1.x is one.
 */
export const SAMPLE_RELEASES: readonly SampleRelease[] = [
  { version: "1.0.0", schema: 1, upgradeFrom: [], migrations: [] },
  {
    version: "1.1.0",
    schema: 2,
    upgradeFrom: ["1.0.0"],
    migrations: [
      { name: "store-schema-2", file: "1.0.0-to-1.1.0.mjs", scope: "node" },
      { name: "shared-db-1.1.0", file: "shared-db-1.1.0.mjs", scope: "cluster-once" },
    ],
  },
  { version: "1.1.1", schema: 2, upgradeFrom: ["1.1.0"], minor: true, migrations: [] },
  { version: "1.2.0", schema: 2, upgradeFrom: ["1.1.1"], fault: "crash-after-start", migrations: [] },
  {
    version: "1.3.0",
    schema: 2,
    upgradeFrom: ["1.1.1"],
    migrations: [{ name: "store-1.3.0", file: "1.1.1-to-1.3.0.mjs", scope: "node" }],
  },
  {
    version: "2.0.0",
    schema: 3,
    upgradeFrom: ["1.1.1"],
    rolling: false,
    fullStopReason: "2.0.0 changes the on-disk format; 1.x nodes cannot read it",
    migrations: [{ name: "store-schema-3", file: "1.1.1-to-2.0.0.mjs", scope: "node" }],
  },
];

export interface SampleArtifact {
  version: string;
  /** Absolute path of the tarball. */
  path: string;
  sha256: string;
  size: number;
}

export interface SampleBuildResult {
  outDir: string;
  catalogPath: string;
  /** False when the sources were unchanged and the existing output was kept. */
  built: boolean;
  sourceHash: string;
  artifacts: SampleArtifact[];
}

export interface BuildSampleOptions {
  /** Output dir; default DEFAULT_SAMPLE_OUT_DIR. */
  outDir?: string;
  /** Rebuild even when the source hash matches. */
  force?: boolean;
}

/**
 * Builds every sample release and the catalog into `outDir`, unless the stored source hash says
 * the output is current. Safe to run from several processes at once: every file is written to a
 * temp name and renamed, and the builds produce identical bytes.
 */
export async function buildSampleReleases(options: BuildSampleOptions = {}): Promise<SampleBuildResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_SAMPLE_OUT_DIR);
  const catalogPath = join(outDir, SAMPLE_CATALOG_FILE);
  const sourceHash = await hashSources();
  if (!options.force && (await isCurrent(outDir, sourceHash))) {
    return { outDir, catalogPath, built: false, sourceHash, artifacts: await artifactsOfCatalog(catalogPath) };
  }
  await mkdir(outDir, { recursive: true });
  const sources = await listFiles(SAMPLE_SOURCE_DIR);
  const artifacts: SampleArtifact[] = [];
  for (const release of SAMPLE_RELEASES) artifacts.push(await buildRelease(release, sources, outDir));
  // Written as built (schema defaults left out, so the file stays readable), checked against the schema first.
  const catalog = makeCatalog(artifacts);
  catalogSchema.parse(catalog);
  const header = "# Generated by scripts/make-sample-releases.ts from test/fixtures/sample-service. Do not edit.\n";
  await writeFileAtomic(catalogPath, header + stringifyYaml(catalog));
  await writeFileAtomic(join(outDir, SOURCE_HASH_FILE), `${sourceHash}\n`);
  return { outDir, catalogPath, built: true, sourceHash, artifacts };
}

/** Path of a release tarball inside an output dir. */
export function sampleTarballName(version: string): string {
  return `${SAMPLE_SERVICE_NAME}-${version}.tar.gz`;
}

async function buildRelease(release: SampleRelease, sources: string[], outDir: string): Promise<SampleArtifact> {
  const staging = await mkdtemp(join(outDir, `.staging-${release.version}-`));
  try {
    const entries = await stageRelease(release, sources, staging);
    const target = join(outDir, sampleTarballName(release.version));
    const temp = `${staging}.tar.gz`;
    await tar.c({ gzip: true, portable: true, mtime: FIXED_MTIME, noDirRecurse: true, cwd: staging, file: temp }, entries);
    const bytes = await readFile(temp);
    await rename(temp, target);
    return { version: release.version, path: target, sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(`${staging}.tar.gz`, { force: true });
  }
}

/** Lays out one release in `dir` with fixed modes; returns its entries (dirs and files), sorted. */
async function stageRelease(release: SampleRelease, sources: string[], dir: string): Promise<string[]> {
  const files = new Map<string, string | { from: string }>();
  for (const path of sources) {
    if (path === "README.md" || path.startsWith("upgrade/")) continue;
    files.set(path, { from: join(SAMPLE_SOURCE_DIR, path) });
  }
  for (const migration of release.migrations) {
    const path = `upgrade/${migration.file}`;
    if (!sources.includes(path)) throw new Error(`migration ${migration.name} of ${release.version}: ${path} is not in ${SAMPLE_SOURCE_DIR}`);
    files.set(path, { from: join(SAMPLE_SOURCE_DIR, path) });
  }
  files.set("VERSION", `${release.version}\n`);
  files.set("release.json", `${JSON.stringify({ version: release.version, schema: release.schema, fault: release.fault ?? null }, null, 2)}\n`);

  const dirs = new Set(["upgrade"]);
  for (const path of files.keys()) {
    for (let parent = dirname(path); parent !== "."; parent = dirname(parent)) dirs.add(parent);
  }
  for (const path of [...dirs].sort()) {
    await mkdir(join(dir, path), { recursive: true });
    await chmod(join(dir, path), 0o755);
  }
  for (const [path, content] of files) {
    const target = join(dir, path);
    if (typeof content === "string") await writeFile(target, content);
    else await copyFile(content.from, target);
    await chmod(target, isExecutable(path) ? 0o755 : 0o644);
  }
  return [...dirs, ...files.keys()].sort();
}

function isExecutable(path: string): boolean {
  return path.startsWith("bin/") || path.startsWith("upgrade/");
}

function makeCatalog(artifacts: SampleArtifact[]): unknown {
  return {
    services: {
      [SAMPLE_SERVICE_NAME]: {
        releases: SAMPLE_RELEASES.map((release, index) => {
          const artifact = artifacts[index]!;
          return {
            version: release.version,
            artifact: { url: sampleTarballName(release.version), sha256: artifact.sha256, size: artifact.size },
            upgradeFrom: release.upgradeFrom,
            ...(release.rolling === false ? { rolling: false } : {}),
            ...(release.fullStopReason ? { fullStopReason: release.fullStopReason } : {}),
            ...(release.minor ? { minor: true } : {}),
            migrations: release.migrations.map((migration) => ({ name: migration.name, run: [`upgrade/${migration.file}`], scope: migration.scope })),
          };
        }),
      },
    },
  };
}

async function artifactsOfCatalog(catalogPath: string): Promise<SampleArtifact[]> {
  const catalog = catalogSchema.parse(parseYaml(await readFile(catalogPath, "utf8")));
  const releases = catalog.services[SAMPLE_SERVICE_NAME]?.releases ?? [];
  return releases.map((release) => ({
    version: release.version,
    path: resolve(dirname(catalogPath), release.artifact.url),
    sha256: release.artifact.sha256,
    size: release.artifact.size ?? 0,
  }));
}

async function isCurrent(outDir: string, sourceHash: string): Promise<boolean> {
  const stored = await readFile(join(outDir, SOURCE_HASH_FILE), "utf8").catch(() => "");
  if (stored.trim() !== sourceHash) return false;
  const outputs = [SAMPLE_CATALOG_FILE, ...SAMPLE_RELEASES.map((release) => sampleTarballName(release.version))];
  for (const name of outputs) {
    const info = await stat(join(outDir, name)).catch(() => undefined);
    if (!info?.isFile()) return false;
  }
  return true;
}

/** sha256 over the sources (paths, exec rule, contents), this script and the tar version. */
async function hashSources(): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(import.meta.filename));
  const tarPackage = await readFile(join(REPO_ROOT, "node_modules", "tar", "package.json"), "utf8").catch(() => "");
  hash.update(String((JSON.parse(tarPackage || "{}") as { version?: string }).version));
  for (const path of await listFiles(SAMPLE_SOURCE_DIR)) {
    hash.update(`\0${path}\0`);
    hash.update(await readFile(join(SAMPLE_SOURCE_DIR, path)));
  }
  return hash.digest("hex");
}

/** Every file under `root`, as sorted `/`-separated relative paths. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" }, force: { type: "boolean", default: false } } });
  const result = await buildSampleReleases({ outDir: values.out, force: values.force });
  const versions = result.artifacts.map((artifact) => artifact.version).join(", ");
  if (result.built) console.log(`make-sample-releases: built kv ${versions} and ${SAMPLE_CATALOG_FILE} into ${result.outDir}`);
  else console.log(`make-sample-releases: ${result.outDir} is up to date (sources unchanged), nothing rebuilt`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(`make-sample-releases: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  });
}
