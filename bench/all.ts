/**
 * `npm run bench`: every bench of issue 14's table in one run, one after the other (so they do not
 * load each other), then one table of every row as Hoist vs its peer with the ratio:
 *   snapshot   bench/snapshot.bench.ts   snapshot step, tiny files, two-phase window, restore (vs GNU tar, rsync)
 *   agent      bench/agent.bench.ts      idle RSS (vs node with the same libraries), GetInventory (vs a gRPC echo)
 *   cli        bench/cli-start.bench.ts  hoist --help / status --json start (vs node -e 0)
 *   fleet      bench/fleet.bench.ts      coordinator overhead of a simulated fleet's rollout (vs a free coordinator)
 * Each bench keeps its own variables (bench/README.md) and writes its own JSON to bench/results/runs/;
 * this one reads them back and writes bench/results/runs/all-latest.json.
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_SUITES   which benches, comma-separated (default snapshot,agent,cli,fleet)
 * The fleet bench runs at HOIST_FLEET_NODES (default here 1000), HOIST_FLEET_BATCH (100%), with slow
 * upgrades (HOIST_FLEET_T_UPGRADE lognormal:20000,0.3, as bench/README.md's fleet table) and the
 * simulator in HOIST_FLEET_SIM_PROCS (2) processes, unless those are set.
 */
import { spawnSync } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { benchResultFile, RUNS_DIR } from "./results-file.ts";

interface Row {
  work: string;
  hoist: string;
  peer: string;
  ratio: string;
}

interface Suite {
  file: string;
  output: string;
  env?: Record<string, string>;
  rows(result: never): Row[];
}

/** The fleet bench's batch: set for its run and named in its row. */
const FLEET_BATCH = process.env.HOIST_FLEET_BATCH ?? "100%";

const SUITES: Record<string, Suite> = {
  // Output paths are set here, over the benches' own variables (HOIST_BENCH_OUT, HOIST_FLEET_OUT), so that the table reads this run's files.
  snapshot: { file: "snapshot.bench.ts", output: "snapshot-latest.json", env: { HOIST_BENCH_OUT: join(RUNS_DIR, "snapshot-latest.json") }, rows: (result: { table: Row[] }) => result.table },
  agent: { file: "agent.bench.ts", output: "agent-latest.json", rows: agentRows },
  cli: { file: "cli-start.bench.ts", output: "cli-start-latest.json", rows: cliRows },
  fleet: {
    file: "fleet.bench.ts",
    output: "fleet-latest.json",
    env: {
      HOIST_FLEET_NODES: process.env.HOIST_FLEET_NODES ?? "1000",
      HOIST_FLEET_BATCH: FLEET_BATCH,
      HOIST_FLEET_PARTS: process.env.HOIST_FLEET_PARTS ?? "rollout",
      // The comparison: ~21.5 s of agent work per node (slow upgrades), the simulator in processes of its own.
      HOIST_FLEET_T_UPGRADE: process.env.HOIST_FLEET_T_UPGRADE ?? "lognormal:20000,0.3",
      HOIST_FLEET_SIM_PROCS: process.env.HOIST_FLEET_SIM_PROCS ?? "2",
      HOIST_FLEET_OUT: "fleet-latest.json",
    },
    rows: fleetRows,
  },
};

const names = (process.env.HOIST_BENCH_SUITES ?? Object.keys(SUITES).join(",")).split(",").filter(Boolean);
const unknown = names.filter((name) => !(name in SUITES));
if (unknown.length > 0) throw new Error(`HOIST_BENCH_SUITES: unknown ${unknown.join(", ")}; known: ${Object.keys(SUITES).join(", ")}`);

const loadAtStart = loadavg();
const rows: Row[] = [];
const failed: string[] = [];
for (const name of names) {
  const suite = SUITES[name]!;
  process.stdout.write(`\n== ${name}: bench/${suite.file} (load ${loadavg()[0]!.toFixed(1)})\n`);
  const startedAt = Date.now();
  const run = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, suite.file)], { stdio: "inherit", env: { ...process.env, ...suite.env } });
  if (run.status !== 0) {
    failed.push(`${name} (exit ${run.status ?? run.signal})`);
    continue;
  }
  const output = join(RUNS_DIR, suite.output);
  const writtenAt = (await stat(output).catch(() => undefined))?.mtimeMs ?? 0;
  if (writtenAt < startedAt) {
    failed.push(`${name} (wrote no ${output})`);
    continue;
  }
  const result = JSON.parse(await readFile(output, "utf8")) as never;
  rows.push(...suite.rows(result));
}

const loadAtEnd = loadavg();
const width = (key: keyof Row) => Math.max(key.length, ...rows.map((row) => row[key].length));
const line = (row: Row) => `| ${(Object.keys(row) as (keyof Row)[]).map((key) => row[key].padEnd(width(key))).join(" | ")} |`;
process.stdout.write(`\n== every row, Hoist vs peer (load ${loadAtStart.map((value) => value.toFixed(1)).join(" ")} at start, ${loadAtEnd.map((value) => value.toFixed(1)).join(" ")} at end, ${cpus().length} cores)\n`);
const header = line({ work: "work", hoist: "hoist", peer: "peer", ratio: "ratio" });
const rule = `| ${(["work", "hoist", "peer", "ratio"] as const).map((key) => "-".repeat(width(key))).join(" | ")} |`;
process.stdout.write(`${[header, rule, ...rows.map(line)].join("\n")}\n`);
if (failed.length > 0) process.stdout.write(`failed: ${failed.join(", ")}\n`);
const out = await benchResultFile("all-latest.json");
await writeFile(out, `${JSON.stringify({ when: new Date().toISOString(), cores: cpus().length, loadAtStart, loadAtEnd, suites: names, failed, rows }, null, 2)}\n`);
process.stdout.write(`results written to ${out}\n`);
process.exitCode = failed.length > 0 ? 1 : 0;

function agentRows(result: {
  medians: Record<string, { rss: number }>;
  latency: { inventory: { p50: number; p99: number }; echo: { p50: number; p99: number } };
  snapshot?: { after: { rss: number }; later: { rss: number }; before: { rss: number } };
}): Row[] {
  const mib = (value: number) => `${value.toFixed(1)} MiB`;
  const rss = (key: string) => result.medians[key]?.rss ?? NaN;
  const bare = rss("node -e (bare)");
  const rows: Row[] = [
    {
      work: "agent idle RSS, as the systemd unit runs it",
      hoist: mib(rss("agent: as the systemd unit runs it")),
      peer: `node -e with the same packages and flags ${mib(rss("node -e with the packages, unit's NODE_OPTIONS"))}`,
      ratio: `${(rss("agent: as the systemd unit runs it") / rss("node -e with the packages, unit's NODE_OPTIONS")).toFixed(2)}x`,
    },
    { work: "agent idle RSS vs bare node (goal 1.5x)", hoist: mib(rss("agent: as the systemd unit runs it")), peer: `node -e 0 ${mib(bare)}`, ratio: `${(rss("agent: as the systemd unit runs it") / bare).toFixed(2)}x` },
    {
      work: "GetInventory p50 / p99",
      hoist: `${result.latency.inventory.p50.toFixed(3)} / ${result.latency.inventory.p99.toFixed(1)} ms`,
      peer: `gRPC echo ${result.latency.echo.p50.toFixed(3)} / ${result.latency.echo.p99.toFixed(1)} ms`,
      ratio: `${(result.latency.inventory.p50 / result.latency.echo.p50).toFixed(2)}x`,
    },
  ];
  if (result.snapshot)
    rows.push({
      work: "agent RSS around a snapshot: before / just after / 10 s later",
      hoist: `${mib(result.snapshot.before.rss)} / ${mib(result.snapshot.after.rss)} / ${mib(result.snapshot.later.rss)}`,
      peer: "its idle RSS",
      ratio: `${(result.snapshot.later.rss / result.snapshot.before.rss).toFixed(2)}x`,
    });
  return rows;
}

function cliRows(result: { table: { command: string; medianS: number; ratioToNode: number }[] }): Row[] {
  const node = result.table.find((row) => row.command === "node -e 0");
  return result.table
    .filter((row) => row !== node)
    .map((row) => ({ work: `CLI start: ${row.command}`, hoist: `${row.medianS.toFixed(3)} s`, peer: `node -e 0 ${node?.medianS.toFixed(3) ?? "?"} s`, ratio: `${row.ratioToNode.toFixed(2)}x` }));
}

function fleetRows(result: {
  nodes: number;
  rollout?: {
    exit: number;
    phase?: string;
    coordinatorCpuS: number;
    rolloutBucket: { casRefused: number; bytesPerNode: number };
    figures?: { idealMs: number; actualMs: number; overheadShare: number };
  };
}): Row[] {
  const rollout = result.rollout;
  if (!rollout) return [];
  const figures = rollout.figures;
  const work = `rollout of ${result.nodes} simulated nodes at batch ${FLEET_BATCH}: coordinator overhead (goal < 5%)`;
  if (!figures) return [{ work, hoist: `did not complete (exit ${rollout.exit}, phase ${rollout.phase ?? "?"})`, peer: "-", ratio: "-" }];
  return [
    {
      work,
      hoist: `${(figures.actualMs / 1000).toFixed(1)} s`,
      peer: `free coordinator ${(figures.idealMs / 1000).toFixed(1)} s`,
      ratio: `${(figures.actualMs / figures.idealMs).toFixed(3)}x (+${(figures.overheadShare * 100).toFixed(1)}%)`,
    },
    {
      work: `  the same: coordinator CPU, CAS refusals, rollout-bucket bytes per node`,
      hoist: `${rollout.coordinatorCpuS.toFixed(1)} CPU-s, ${rollout.rolloutBucket.casRefused} refused, ${rollout.rolloutBucket.bytesPerNode} B/node`,
      peer: "-",
      ratio: "-",
    },
  ];
}
