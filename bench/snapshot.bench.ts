/**
 * Snapshot benchmark: Hoist's snapshot create/verify/restore against GNU tar on the same data dir,
 * in the same run. `npm run bench`.
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_MB           size of the generated data dir in MiB (default 512)
 *   HOIST_BENCH_DIR          where data and archives go (default $TMPDIR/hoist-bench); reused between
 *                            runs when the data dir matches
 *   HOIST_BENCH_ROUNDS       rounds of the plain-tar measurements (default 3; median and min reported)
 *   HOIST_BENCH_GZIP_ROUNDS  rounds of the gzip measurements (default 1; they are slow)
 *
 * Caches cannot be dropped here; everything is measured with a warm page cache (one unmeasured
 * warm-up round first) and `sync` before every measured step, so no step pays for an earlier
 * step's writeback. Operations are interleaved (Hoist, then GNU, per round) so that noise from
 * other load hits both alike.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createSnapshot, prepareSnapshotWorker, restoreSnapshot, verifySnapshot, type SnapshotInfo } from "../agent/snapshot/index.ts";
import { SnapshotWorker } from "../agent/snapshot/worker-client.ts";
import { hashTree } from "../test/helpers/hash-tree.ts";
import { generateDataDir, type GeneratedData } from "./generate-data.ts";
import { benchResultFile } from "./results-file.ts";

const run = promisify(execFile);
const GENERATOR_VERSION = 1;

const sizeMb = Number(process.env.HOIST_BENCH_MB ?? 512);
const benchDir = process.env.HOIST_BENCH_DIR ?? join(tmpdir(), "hoist-bench");
const rounds = Number(process.env.HOIST_BENCH_ROUNDS ?? 3);
const gzipRounds = Number(process.env.HOIST_BENCH_GZIP_ROUNDS ?? 1);

const data = join(benchDir, "data");
const snapshots = join(benchDir, "snapshots");
const gnuTar = join(benchDir, "gnu.tar");
const gnuTgz = join(benchDir, "gnu.tar.gz");
const gnuOut = join(benchDir, "gnu-extract");

const times = new Map<string, number[]>();
const sizes: Record<string, number> = {};

async function sh(command: string, args: string[]): Promise<void> {
  await run(command, args, { maxBuffer: 1024 * 1024 });
}

/** Times `fn` after a full sync (so it does not pay for earlier writeback) and records it under `name`. */
async function measure<T>(name: string, fn: () => Promise<T>, record = true): Promise<T> {
  execFileSync("sync");
  const start = performance.now();
  const result = await fn();
  const seconds = (performance.now() - start) / 1000;
  if (record) times.set(name, [...(times.get(name) ?? []), seconds]);
  return result;
}

async function ensureData(): Promise<GeneratedData> {
  const marker = join(benchDir, "data.json");
  const wanted = { sizeMb, generator: GENERATOR_VERSION };
  const existing = await readFile(marker, "utf8").then(JSON.parse, () => undefined);
  if (existing?.sizeMb === sizeMb && existing?.generator === GENERATOR_VERSION) {
    console.log(`reusing ${data} (${existing.files} files, ${mib(existing.bytes)} MiB)`);
    return existing as GeneratedData;
  }
  await rm(benchDir, { recursive: true, force: true });
  await mkdir(benchDir, { recursive: true });
  console.log(`generating ${sizeMb} MiB of mixed data in ${data} ...`);
  const generated = await generateDataDir(data, sizeMb);
  await writeFile(marker, JSON.stringify({ ...wanted, ...generated }));
  return generated;
}

async function gnuTarCreate(archive: string, extra: string[]): Promise<void> {
  await rm(archive, { force: true });
  await sh("tar", [...extra, "-cf", archive, "-C", data, "."]);
}

async function gnuTarExtract(archive: string, extra: string[] = []): Promise<void> {
  await mkdir(gnuOut);
  await sh("tar", [...extra, "-xf", archive, "-C", gnuOut]);
}

async function removeSnapshot(info: SnapshotInfo): Promise<void> {
  await rm(info.dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const generated = await ensureData();
  await rm(snapshots, { recursive: true, force: true });
  await rm(gnuOut, { recursive: true, force: true });
  const loadBefore = loadavg();
  const hasZstd = (() => {
    try {
      execFileSync("zstd", ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  // Cold worker start, measured apart: the agent pre-starts it (prepareSnapshotWorker) before stopping a service.
  for (let i = 0; i < 3; i++) {
    await measure("worker start (cold)", async () => {
      const worker = new SnapshotWorker();
      await worker.scan(join(benchDir, "no-such-dir"));
      await worker.close();
    });
  }
  prepareSnapshotWorker();

  console.log("warm-up round (not counted) ...");
  const warm = await measure("warmup", () => createSnapshot({ service: "bench", dataDirs: [data], snapshotsDir: snapshots, compression: "none" }), false);
  await removeSnapshot(warm);
  await measure("warmup", () => gnuTarCreate(gnuTar, []), false);

  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds} (plain tar) ...`);
    const info = await measure("hoist create", () => createSnapshot({ service: "bench", dataDirs: [data], snapshotsDir: snapshots, compression: "none" }));
    sizes["hoist tar"] = info.archiveBytes;
    await measure("hoist verify", () => verifySnapshot(snapshots, info.id));
    await measure("hoist restore", () => restoreSnapshot(snapshots, info.id));
    await removeSnapshot(info);

    await measure("tar cf", () => gnuTarCreate(gnuTar, []));
    await measure("tar cf + sync", async () => {
      await gnuTarCreate(gnuTar, []);
      await sh("sync", ["-f", gnuTar]);
    });
    await measure("tar xf", () => gnuTarExtract(gnuTar));
    await rm(gnuOut, { recursive: true, force: true });
    // What a restore with GNU tar costs end to end: extract beside, sync, drop the replaced copy.
    await measure("tar xf + sync + rm old", async () => {
      await gnuTarExtract(gnuTar);
      await sh("sync", ["-f", gnuOut]);
      await rm(gnuOut, { recursive: true, force: true });
    });
    sizes["gnu tar"] = Number(execFileSync("stat", ["-c", "%s", gnuTar]).toString().trim());
  }

  for (let round = 1; round <= gzipRounds; round++) {
    console.log(`round ${round}/${gzipRounds} (gzip) ...`);
    const info = await measure("hoist create gzip", () => createSnapshot({ service: "bench", dataDirs: [data], snapshotsDir: snapshots, compression: "gzip" }));
    sizes["hoist tar.gz (level 1, parallel members)"] = info.archiveBytes;
    await measure("hoist verify gzip", () => verifySnapshot(snapshots, info.id));
    await measure("hoist restore gzip", () => restoreSnapshot(snapshots, info.id));
    await removeSnapshot(info);
    await measure("tar czf", () => gnuTarCreate(gnuTgz, ["-z"]));
    sizes["gnu tar.gz (gzip -6)"] = Number(execFileSync("stat", ["-c", "%s", gnuTgz]).toString().trim());
    await measure("tar cf -I 'gzip -1'", () => gnuTarCreate(gnuTgz, ["-I", "gzip -1"]));
    sizes["gnu tar.gz (gzip -1)"] = Number(execFileSync("stat", ["-c", "%s", gnuTgz]).toString().trim());
    await measure("tar xzf", () => gnuTarExtract(gnuTgz, ["-z"]));
    await rm(gnuOut, { recursive: true, force: true });
    if (hasZstd) {
      const zst = join(benchDir, "gnu.tar.zst");
      await measure("tar cf -I 'zstd -T0 -3' (reference)", () => gnuTarCreate(zst, ["-I", "zstd -T0 -3"]));
      sizes["gnu tar.zst (zstd -3, reference)"] = Number(execFileSync("stat", ["-c", "%s", zst]).toString().trim());
      await rm(zst, { force: true });
    }
    await rm(gnuTgz, { force: true });
  }

  console.log("checking that the restored data dir is still the generated one ...");
  const check = await createSnapshot({ service: "bench", dataDirs: [data], snapshotsDir: snapshots, compression: "none" });
  const viaGnu = join(benchDir, "check");
  await rm(viaGnu, { recursive: true, force: true });
  await mkdir(viaGnu);
  await sh("tar", ["-xf", gnuTar, "-C", viaGnu]);
  const identical = JSON.stringify(await hashTree(viaGnu)) === JSON.stringify(await hashTree(data));
  await rm(viaGnu, { recursive: true, force: true });
  await removeSnapshot(check);
  await rm(gnuTar, { force: true });

  const stats = Object.fromEntries(
    [...times].map(([name, runs]) => {
      const sorted = [...runs].sort((a, b) => a - b);
      return [name, { median: sorted[Math.floor((sorted.length - 1) / 2)]!, min: sorted[0]!, runs }];
    }),
  );
  const median = (name: string) => stats[name]?.median ?? NaN;
  const ratios: [string, number][] = [
    ["hoist create / tar cf", median("hoist create") / median("tar cf")],
    ["hoist create / (tar cf + sync)", median("hoist create") / median("tar cf + sync")],
    ["(hoist create + verify) / tar cf", (median("hoist create") + median("hoist verify")) / median("tar cf")],
    ["hoist verify / tar cf", median("hoist verify") / median("tar cf")],
    ["hoist restore / tar xf", median("hoist restore") / median("tar xf")],
    ["hoist restore / (tar xf + sync + rm old)", median("hoist restore") / median("tar xf + sync + rm old")],
    ["hoist create gzip / tar czf", median("hoist create gzip") / median("tar czf")],
    ["hoist create gzip / tar cf -I 'gzip -1'", median("hoist create gzip") / median("tar cf -I 'gzip -1'")],
    ["hoist restore gzip / tar xzf", median("hoist restore gzip") / median("tar xzf")],
  ];

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    filesystem: execFileSync("df", ["-T", benchDir]).toString().trim().split("\n").at(-1)?.split(/\s+/)[1] ?? "unknown",
    gnuTar: execFileSync("tar", ["--version"]).toString().split("\n")[0],
  };
  const result = {
    at: new Date().toISOString(),
    machine,
    data: { dir: data, sizeMb, files: generated.files, bytes: generated.bytes },
    rounds: { plain: rounds, gzip: gzipRounds },
    cache: "warm page cache (data read by a warm-up round); sync before every measured step",
    loadavg: { before: loadBefore, after: loadavg() },
    seconds: stats,
    ratios: Object.fromEntries(ratios),
    sizes,
    restoredTreeIdentical: identical,
  };

  const rows = Object.entries(stats).map(([name, s]) => `${name.padEnd(40)} ${s.median.toFixed(2).padStart(7)} ${s.min.toFixed(2).padStart(7)}   ${s.runs.map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`\n${machine.cpus} cores (${machine.cpuModel}), ${machine.memGiB} GiB, ${machine.filesystem}, node ${machine.node}, ${machine.gnuTar}`);
  console.log(`data: ${generated.files} files, ${mib(generated.bytes)} MiB; load average before ${loadBefore.map((x) => x.toFixed(1)).join(" ")}\n`);
  console.log(`${"step".padEnd(40)} ${"median".padStart(7)} ${"min".padStart(7)}   runs (s)`);
  console.log(rows.join("\n"));
  console.log("");
  for (const [name, value] of ratios) console.log(`${name.padEnd(44)} = ${value.toFixed(2)}x`);
  console.log("");
  for (const [name, bytes] of Object.entries(sizes)) console.log(`${name.padEnd(44)} ${mib(bytes)} MiB`);
  console.log(`\nrestored data dir identical to the original: ${identical}`);

  const out = await benchResultFile("latest.json");
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results written to ${out}`);
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

await main();
