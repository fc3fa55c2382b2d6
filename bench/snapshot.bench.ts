/**
 * Snapshot benchmark (`npm run bench`): Hoist's snapshot step, two-phase delta and restore against
 * GNU tar and rsync on the same data, interleaved per round, in one run. Rows:
 *
 *   1. snapshot step (create + verify), mixed data   vs `tar cf` + syncfs
 *   2. snapshot step, tiny files (with peak RSS)     vs `tar cf` + syncfs
 *   3. two-phase, CHANGED share of files changed: the stopped window (second phase) vs the full
 *      snapshot step of row 1 and vs `rsync -a --delete` of the same kind of change + syncfs
 *   4. restore of mixed / tiny / big files           vs `tar xf` beside + syncfs + swap + rm of the old copy
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_MB       mixed data dir size in MiB (default 1024)
 *   HOIST_BENCH_TINY     tiny files (default 100000)
 *   HOIST_BENCH_BIG_MB   size of each of the 4 big files in MiB (default 256)
 *   HOIST_BENCH_CHANGED  share of files changed between the phases (default 0.01)
 *   HOIST_BENCH_ROUNDS   rounds (default 3); medians of per-round ratios are reported
 *   HOIST_BENCH_ROWS     which rows to run (default "step,tiny,twophase,restore")
 *   HOIST_BENCH_DIR      data and archives (default $TMPDIR/hoist-bench); data reused between runs
 *   HOIST_BENCH_OUT      where the JSON result goes (default bench/results/runs/snapshot-latest.json, git-ignored)
 *
 * Warm page cache (data generated or read before), `sync` before every measured step. The snapshot
 * step runs in a child process of its own (bench/snapshot-step-child.ts), so its peak RSS is its own.
 */
import { execFile, execFileSync } from "node:child_process";
import { appendFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createSnapshot, prepareSnapshotWorker, restoreSnapshot, TwoPhaseSnapshot, type SnapshotInfo } from "../agent/snapshot/index.ts";
import { generateBigFiles, generateDataDir, generateTinyFiles, type GeneratedData } from "./generate-data.ts";
import { benchResultFile } from "./results-file.ts";

const run = promisify(execFile);
const GENERATOR_VERSION = 2;
const env = process.env;
const sizeMb = Number(env.HOIST_BENCH_MB ?? 1024);
const tinyCount = Number(env.HOIST_BENCH_TINY ?? 100_000);
const bigMb = Number(env.HOIST_BENCH_BIG_MB ?? 256);
const changedShare = Number(env.HOIST_BENCH_CHANGED ?? 0.01);
const rounds = Number(env.HOIST_BENCH_ROUNDS ?? 3);
const rows = new Set((env.HOIST_BENCH_ROWS ?? "step,tiny,twophase,restore").split(","));
const benchDir = env.HOIST_BENCH_DIR ?? join(tmpdir(), "hoist-bench");
const snapshots = join(benchDir, "snapshots");
const gnuTar = join(benchDir, "gnu.tar");

interface Sample {
  hoist: number;
  peer: number;
  extra?: Record<string, number>;
}
const samples = new Map<string, Sample[]>();
const loads: Record<string, number[]> = {};

function record(row: string, sample: Sample): void {
  samples.set(row, [...(samples.get(row) ?? []), sample]);
  console.log(`  ${row}: hoist ${sample.hoist.toFixed(2)} s, peer ${sample.peer.toFixed(2)} s${sample.extra ? ` ${JSON.stringify(sample.extra)}` : ""}`);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  execFileSync("sync");
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

async function sh(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

async function dataset(name: string, make: (dir: string) => Promise<GeneratedData>, key: unknown): Promise<{ dir: string; data: GeneratedData }> {
  const dir = join(benchDir, name);
  const marker = join(benchDir, `${name}.json`);
  const wanted = JSON.stringify({ key, generator: GENERATOR_VERSION });
  const existing = await readFile(marker, "utf8").then(JSON.parse, () => undefined);
  if (existing?.wanted === wanted) return { dir, data: existing.data };
  await rm(dir, { recursive: true, force: true });
  console.log(`generating ${name} ...`);
  const data = await make(dir);
  await writeFile(marker, JSON.stringify({ wanted, data }));
  return { dir, data };
}

/** `tar cf` + syncfs of the archive's filesystem (what a durable GNU snapshot costs); peak RSS of tar from /usr/bin/time. */
async function gnuSnapshot(dir: string): Promise<{ seconds: number; rssMiB: number; cpuSeconds: number }> {
  await rm(gnuTar, { force: true });
  let rss = 0;
  let cpuSeconds = 0;
  const seconds = await timed(async () => {
    const { stderr } = await run("/usr/bin/time", ["-f", "%M %U %S", "tar", "cf", gnuTar, "-C", dir, "."]);
    const [kib, user, system] = stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
    rss = kib! / 1024;
    cpuSeconds = user! + system!;
    await sh("sync", ["-f", gnuTar]);
  });
  return { seconds, rssMiB: rss, cpuSeconds };
}

/** One snapshot step (create + verify) in its own process: seconds, peak RSS, RSS 10 s after. */
async function hoistStep(dir: string): Promise<{ seconds: number; cpuSeconds: number; peakRssMiB: number; rssAfter10sMiB: number; rssBeforeMiB: number; id: string }> {
  execFileSync("sync");
  const stdout = await sh(process.execPath, ["--import", "tsx", join(import.meta.dirname, "snapshot-step-child.ts"), dir, snapshots]);
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Awaited<ReturnType<typeof hoistStep>>;
}

async function removeSnapshot(id: string): Promise<void> {
  await rm(join(snapshots, id), { recursive: true, force: true });
}

/** Rewrites `share` of the regular files under `dir` (same size, new bytes; every 10th one grows), picked by `seed`. */
async function changeFiles(files: string[], share: number, seed: number): Promise<number> {
  const count = Math.max(1, Math.round(files.length * share));
  for (let i = 0; i < count; i++) {
    const path = files[(seed * 7919 + i * 104_729) % files.length]!;
    if (i % 10 === 0) await appendFile(path, `grown ${seed}\n`);
    else {
      const handle = await import("node:fs/promises").then((fs) => fs.open(path, "r+"));
      await handle.write(Buffer.from(`changed ${seed} ${i}`), 0, undefined, 0);
      await handle.close();
    }
  }
  return count;
}

async function listFiles(dir: string): Promise<string[]> {
  return (await sh("find", [dir, "-type", "f"])).trim().split("\n").sort();
}

/** GNU restore of `archive` over `dir`: extract beside, syncfs, swap by rename, remove the old copy. */
async function gnuRestore(archive: string, dir: string): Promise<void> {
  const beside = `${dir}.gnu-new`;
  const old = `${dir}.gnu-old`;
  await mkdir(beside);
  await sh("tar", ["xf", archive, "-C", beside]);
  await sh("sync", ["-f", beside]);
  await rename(dir, old);
  await rename(beside, dir);
  await sh("rm", ["-rf", old]);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  const mixed = await dataset("mixed", (dir) => generateDataDir(dir, sizeMb), sizeMb);
  const tiny = rows.has("tiny") || rows.has("restore") ? await dataset("tiny", (dir) => generateTinyFiles(dir, tinyCount), tinyCount) : undefined;
  const big = rows.has("restore") ? await dataset("big", (dir) => generateBigFiles(dir, 4, bigMb), bigMb) : undefined;
  await rm(snapshots, { recursive: true, force: true });
  const mirror = join(benchDir, "rsync-mirror");
  const mixedFiles = await listFiles(mixed.dir);
  if (rows.has("twophase")) {
    console.log("rsync mirror (not timed) ...");
    await sh("rsync", ["-a", "--delete", `${mixed.dir}/`, `${mirror}/`]);
  }
  prepareSnapshotWorker();
  loads.start = loadavg();

  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}, load ${loadavg()[0]!.toFixed(1)}`);
    if (rows.has("step") || rows.has("twophase")) {
      const hoist = await hoistStep(mixed.dir);
      await removeSnapshot(hoist.id);
      const gnu = await gnuSnapshot(mixed.dir);
      record("snapshot step, mixed", {
        hoist: hoist.seconds,
        peer: gnu.seconds,
        extra: { hoistCpuSeconds: hoist.cpuSeconds, tarCpuSeconds: gnu.cpuSeconds, hoistPeakRssMiB: hoist.peakRssMiB, hoistRssAfter10sMiB: hoist.rssAfter10sMiB },
      });
    }
    if (rows.has("tiny") && tiny !== undefined) {
      const hoist = await hoistStep(tiny.dir);
      await removeSnapshot(hoist.id);
      const gnu = await gnuSnapshot(tiny.dir);
      record("snapshot step, tiny files", {
        hoist: hoist.seconds,
        peer: gnu.seconds,
        extra: { hoistCpuSeconds: hoist.cpuSeconds, tarCpuSeconds: gnu.cpuSeconds, hoistPeakRssMiB: hoist.peakRssMiB, hoistRssBeforeMiB: hoist.rssBeforeMiB, hoistRssAfter10sMiB: hoist.rssAfter10sMiB, tarPeakRssMiB: gnu.rssMiB },
      });
    }
    if (rows.has("twophase")) {
      // Files changed before now must be older than the racy margin when the first phase starts.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      let twoPhase: TwoPhaseSnapshot | undefined;
      const firstPhase = await timed(async () => (twoPhase = await TwoPhaseSnapshot.start({ service: "bench", dataDirs: [mixed.dir], snapshotsDir: snapshots, compression: "none" })));
      const changed = await changeFiles(mixedFiles, changedShare, round * 2);
      let info: SnapshotInfo | undefined;
      const window = await timed(async () => (info = await twoPhase!.finish()));
      await removeSnapshot(info!.id);
      await changeFiles(mixedFiles, changedShare, round * 2 + 1);
      const rsync = await timed(async () => {
        await sh("rsync", ["-a", "--delete", `${mixed.dir}/`, `${mirror}/`]);
        await sh("sync", ["-f", mirror]);
      });
      record("two-phase window vs rsync delta", { hoist: window, peer: rsync, extra: { firstPhaseSeconds: firstPhase, changedFiles: changed } });
    }
    if (rows.has("restore")) {
      for (const [name, set] of [
        ["mixed", mixed],
        ["tiny", tiny],
        ["big", big],
      ] as const) {
        if (set === undefined) continue;
        const info = await createSnapshot({ service: "bench", dataDirs: [set.dir], snapshotsDir: snapshots, compression: "none" });
        const hoist = await timed(() => restoreSnapshot(snapshots, info.id));
        const archive = join(info.dir, "data-0.tar");
        const gnu = await timed(() => gnuRestore(archive, set.dir));
        await removeSnapshot(info.id);
        record(`restore, ${name}`, { hoist, peer: gnu });
      }
    }
    loads[`round ${round}`] = loadavg();
  }
  await rm(gnuTar, { force: true });

  const ratio = (row: string) => median((samples.get(row) ?? []).map((s) => s.hoist / s.peer));
  const med = (row: string, pick: (s: Sample) => number) => median((samples.get(row) ?? []).map(pick));
  const stepMixed = samples.get("snapshot step, mixed") ?? [];
  const table: { work: string; hoist: string; peer: string; ratio: string }[] = [];
  const add = (work: string, hoist: string, peer: string, value: number) => table.push({ work, hoist, peer, ratio: Number.isNaN(value) ? "-" : `${value.toFixed(2)}x` });
  if (stepMixed.length > 0)
    add(
      `snapshot step (create + verify), ${mib(mixed.data.bytes)} MiB / ${mixed.data.files} files`,
      `${med("snapshot step, mixed", (s) => s.hoist).toFixed(2)} s`,
      `tar cf + syncfs ${med("snapshot step, mixed", (s) => s.peer).toFixed(2)} s`,
      ratio("snapshot step, mixed"),
    );
  if (samples.has("snapshot step, tiny files")) {
    const row = "snapshot step, tiny files";
    add(
      `snapshot step, ${tinyCount} tiny files`,
      `${med(row, (s) => s.hoist).toFixed(2)} s, peak RSS ${med(row, (s) => s.extra!.hoistPeakRssMiB!).toFixed(0)} MiB (before ${med(row, (s) => s.extra!.hoistRssBeforeMiB!).toFixed(0)}, 10 s after ${med(row, (s) => s.extra!.hoistRssAfter10sMiB!).toFixed(0)})`,
      `tar cf + syncfs ${med(row, (s) => s.peer).toFixed(2)} s, tar peak RSS ${med(row, (s) => s.extra!.tarPeakRssMiB!).toFixed(0)} MiB`,
      ratio(row),
    );
  }
  if (samples.has("two-phase window vs rsync delta")) {
    const row = "two-phase window vs rsync delta";
    const windows = samples.get(row)!;
    const vsFull = median(windows.map((s, i) => s.hoist / (stepMixed[i]?.hoist ?? NaN)));
    add(
      `two-phase: stopped window with ${(changedShare * 100).toFixed(1)}% of files changed, vs the full step`,
      `${med(row, (s) => s.hoist).toFixed(2)} s (first phase, service up: ${med(row, (s) => s.extra!.firstPhaseSeconds!).toFixed(2)} s)`,
      `full snapshot step ${med("snapshot step, mixed", (s) => s.hoist).toFixed(2)} s`,
      vsFull,
    );
    add(`two-phase: stopped window vs rsync -a delta + syncfs`, `${med(row, (s) => s.hoist).toFixed(2)} s`, `rsync ${med(row, (s) => s.peer).toFixed(2)} s`, ratio(row));
  }
  for (const name of ["mixed", "tiny", "big"]) {
    const row = `restore, ${name}`;
    if (samples.has(row)) add(`restore, ${name}`, `${med(row, (s) => s.hoist).toFixed(2)} s`, `tar xf + syncfs + swap + rm old ${med(row, (s) => s.peer).toFixed(2)} s`, ratio(row));
  }
  loads.end = loadavg();

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    gnuTar: execFileSync("tar", ["--version"]).toString().split("\n")[0],
  };
  console.log(`\n${machine.cpus} cores (${machine.cpuModel}), node ${machine.node}, ${machine.gnuTar}; ${rounds} rounds, ratios = medians of per-round ratios`);
  console.log(
    `load average (1/5/15 min): ${Object.entries(loads)
      .map(([at, l]) => `${at} ${l.map((x) => x.toFixed(1)).join("/")}`)
      .join("; ")}\n`,
  );
  for (const line of table) console.log(`${line.work}\n    hoist: ${line.hoist}\n    peer:  ${line.peer}\n    ratio: ${line.ratio}`);
  const out = env.HOIST_BENCH_OUT ?? (await benchResultFile("snapshot-latest.json"));
  await writeFile(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), machine, rounds, loads, data: { mixed: mixed.data, tiny: tiny?.data, big: big?.data, changedShare }, table, samples: Object.fromEntries(samples) }, null, 2)}\n`,
  );
  console.log(`\nresults written to ${out}`);
  process.exit(0);
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

await main();
