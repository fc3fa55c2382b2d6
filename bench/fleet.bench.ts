/**
 * Fleet benchmark (`npm run bench:fleet`): a simulated fleet (scripts/fleet-sim) on a real
 * nats-server, measured with the real `hoist` command. Parts (HOIST_FLEET_PARTS, default all):
 *   consumers  JetStream consumers (account info and per stream) as the fleet joins;
 *   inventory  `hoist inventory --json` over the whole fleet, as a whole process, and in-process;
 *   rollout    `hoist rollout start` rolling the fleet 1.0.0 -> 1.1.0 at batch HOIST_FLEET_BATCH,
 *              coordinator overhead against the agents' own step times.
 * Prints a summary and writes bench/results/fleet-latest.json. See bench/README.md.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type JetStreamManager, type KV } from "nats";
import { startLocalNatsServer } from "../shared/nats-server/index.ts";
import { ensureEventsStream, openBuckets, KV_INVENTORY } from "../shared/bus/index.ts";
import { readInventories } from "../shared/inventory/index.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import { nodeInventorySchema } from "../shared/inventory/index.ts";
import { decodeJson } from "../shared/bus/index.ts";
import { startFleet } from "../scripts/fleet-sim/fleet.ts";
import { countRolloutWrites } from "../scripts/fleet-sim/rollout-writes.ts";
import { writeSimCatalog } from "../scripts/fleet-sim/sim-catalog.ts";
import { DEFAULT_TIMINGS, SIM_STEPS, type SimStep } from "../scripts/fleet-sim/timing.ts";
import { analyzeRollout } from "./fleet/analyze.ts";
import { cpuSecondsOf, startFleetProcesses, type FleetProcesses } from "./fleet/sim-processes.ts";
import { benchResultFile } from "./results-file.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = process.env;
/** The hoist command measured (another build's bin/hoist.mjs compares two versions on one machine). */
const HOIST = env.HOIST_FLEET_HOIST ?? join(root, "bin", "hoist.mjs");
const NODES = Number(env.HOIST_FLEET_NODES ?? 1000);
const BATCH = env.HOIST_FLEET_BATCH ?? "50";
const PARTS = new Set((env.HOIST_FLEET_PARTS ?? "consumers,inventory,rollout").split(","));
const RUNS = Number(env.HOIST_FLEET_RUNS ?? 5);
const MIN_HEALTHY_MS = Number(env.HOIST_FLEET_MIN_HEALTHY_MS ?? 300);
const ROLLOUT_TIMEOUT_S = Number(env.HOIST_FLEET_ROLLOUT_TIMEOUT_S ?? 2400);
/** A directory: the rollout command runs under `node --cpu-prof` and leaves its profile there. */
const CPU_PROF_DIR = env.HOIST_FLEET_CPU_PROF;
/** 0: the simulated fleet runs inside the bench process; K >= 1: in K processes of its own (scripts/fleet-sim/main.ts), each with a share. */
const SIM_PROCS = Number(env.HOIST_FLEET_SIM_PROCS ?? 0);
const timings: Partial<Record<SimStep, string>> = {};
for (const step of SIM_STEPS) {
  const spec = env[`HOIST_FLEET_T_${step.toUpperCase()}`];
  if (spec) timings[step] = spec;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const ms = (value: number) => `${Math.round(value)} ms`;

interface ProcessRun {
  code: number | null;
  wallMs: number;
  userS: number;
  sysS: number;
  maxRssKiB: number;
  stdout: string;
  stderr: string;
}

/** Runs `hoist ARGS` under /usr/bin/time (wall, user, sys, peak RSS of the process). */
function runHoist(args: string[], timeoutS = 120, nodeArgs: string[] = []): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "\nTIME %e %U %S %M", process.execPath, ...nodeArgs, HOIST, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutS * 1000);
    child.once("close", (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      const match = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(stderr);
      resolve({ code, wallMs, userS: Number(match?.[2] ?? NaN), sysS: Number(match?.[3] ?? NaN), maxRssKiB: Number(match?.[4] ?? NaN), stdout, stderr: stderr.replace(/\nTIME .*\s*$/, "") });
    });
  });
}

async function consumerCounts(jsm: JetStreamManager): Promise<{ account: number; perStream: Record<string, number> }> {
  const account = (await jsm.getAccountInfo()).consumers;
  const perStream: Record<string, number> = {};
  for await (const stream of jsm.streams.list()) perStream[stream.config.name] = stream.state.consumer_count;
  return { account, perStream };
}

/** Counts the coordinator's JSON log lines on stderr by message, step and code (what it retried and why). */
function summarizeWarnings(stderr: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; step?: string; code?: string; err?: string };
      const code = entry.code ?? (typeof entry.err === "string" ? entry.err.slice(0, 60) : "");
      const key = [entry.msg, entry.step, code].filter(Boolean).join(" | ");
      counts[key] = (counts[key] ?? 0) + 1;
    } catch {
      counts["(unparsed stderr line)"] = (counts["(unparsed stderr line)"] ?? 0) + 1;
    }
  }
  return counts;
}

/** Every inventory of the cluster through one KV watch (one ordered consumer, last value per key). */
async function readByOneWatch(kv: KV, cluster: string, expected: number): Promise<number> {
  const watch = await kv.watch({ key: `${cluster}.*` });
  let count = 0;
  const timer = setTimeout(() => watch.stop(), 10_000);
  for await (const entry of watch) {
    if (entry.operation === "PUT" && nodeInventorySchema.safeParse(decodeJson(entry.value)).success) count++;
    if (entry.delta === 0 || count >= expected) break;
  }
  clearTimeout(timer);
  watch.stop();
  return count;
}

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  nodes: NODES,
  startedAt: new Date().toISOString(),
  loadAtStart: loadavg(),
  timings: { ...DEFAULT_TIMINGS, ...timings },
};

const store = await mkdtemp(join(tmpdir(), "hoist-fleet-bench-"));
const nats = await startLocalNatsServer({ storeDir: join(store, "nats") });
const nc = await connect({ servers: nats.url, name: "fleet bench" });
const jsm = await nc.jetstreamManager();
const buckets = await openBuckets(nc);
await ensureEventsStream(jsm);
const cluster = `fleet${Math.random().toString(16).slice(2, 6)}`;
let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
let simProcesses: FleetProcesses | undefined;
/** Every step the simulated agents did so far, wherever they run. */
const simRecords = () => simProcesses?.records ?? fleet!.records;
/** CPU seconds the simulator used so far (the bench process itself when the fleet runs inside it). */
const simCpuSeconds = async () => {
  if (simProcesses) return simProcesses.cpuSeconds();
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

try {
  log(
    `fleet bench: ${NODES} simulated agents, cluster ${cluster}, nats ${nats.url}, load ${loadavg()
      .map((value) => value.toFixed(2))
      .join(" ")}`,
  );

  // (c) consumers as the fleet joins: sampled after each step of growth, over one heartbeat and more.
  const growth: { agents: number; joinMs: number; account: number[]; perStream: Record<string, number> }[] = [];
  const before = await consumerCounts(jsm);
  growth.push({ agents: 0, joinMs: 0, account: [before.account], perStream: before.perStream });
  // Simulator processes start together, each with its share: the fleet joins in one step.
  const steps = SIM_PROCS > 0 ? [NODES] : [1, 10, 100, 250, 500, 1000, 2000, 5000, 10000].filter((count) => count < NODES).concat(NODES);
  for (const total of steps) {
    const joinStarted = performance.now();
    if (SIM_PROCS > 0) simProcesses = await startFleetProcesses({ servers: [nats.url], cluster, nodes: total, processes: SIM_PROCS, version: "1.0.0", timings, seed: 42 });
    else if (!fleet) fleet = await startFleet({ servers: [nats.url], cluster, nodes: total, version: "1.0.0", timings, seed: 42 });
    else await fleet.grow(total);
    const joinMs = performance.now() - joinStarted;
    const samples: number[] = [];
    let perStream: Record<string, number> = {};
    if (PARTS.has("consumers") || total === NODES) {
      for (let sample = 0; sample < 5; sample++) {
        await new Promise((resolve) => setTimeout(resolve, 600));
        const counts = await consumerCounts(jsm);
        samples.push(counts.account);
        perStream = counts.perStream;
      }
    }
    growth.push({ agents: total, joinMs, account: samples, perStream });
    log(`  ${String(total).padStart(6)} agents joined (+${ms(joinMs)}), JetStream consumers: ${samples.join(" ")}  ${JSON.stringify(perStream)}`);
  }
  results.consumers = growth;
  const simRssMiB = simProcesses ? simProcesses.ready.reduce((sum, one) => sum + one.rssMiB, 0) : Math.round(process.memoryUsage().rss / 2 ** 20);
  results.simRssMiB = simRssMiB;
  results.simProcesses = SIM_PROCS;
  log(simProcesses ? `  ${SIM_PROCS} simulator processes, RSS ${simProcesses.ready.map((one) => one.rssMiB).join(" + ")} MiB` : `  bench process (simulator inside) RSS ${simRssMiB} MiB`);

  // The idle fleet's steady cost: heartbeats only (every agent puts its inventory every 2 s).
  {
    const windowS = 10;
    const natsBefore = await cpuSecondsOf(nats.process.pid!);
    const simBefore = await simCpuSeconds();
    const seqBefore = (await jsm.streams.info(`KV_${KV_INVENTORY}`)).state.last_seq;
    await new Promise((resolve) => setTimeout(resolve, windowS * 1000));
    const seqAfter = (await jsm.streams.info(`KV_${KV_INVENTORY}`)).state.last_seq;
    const sim = (await simCpuSeconds()) - simBefore;
    const idle = {
      windowS,
      inventoryPutsPerS: Math.round((seqAfter - seqBefore) / windowS),
      natsServerCpuShare: (await cpuSecondsOf(nats.process.pid!)) - natsBefore,
      simulatorCpuShare: sim,
    };
    idle.natsServerCpuShare /= windowS;
    idle.simulatorCpuShare /= windowS;
    results.idle = idle;
    log(`  idle fleet: ${idle.inventoryPutsPerS} inventory puts/s; nats-server ${(idle.natsServerCpuShare * 100).toFixed(0)}% of a core, simulator ${(idle.simulatorCpuShare * 100).toFixed(0)}% of a core`);
  }

  // (a) inventory of the whole fleet.
  if (PARTS.has("inventory")) {
    const args = ["inventory", "--json", "--cluster", cluster, "--nats", nats.url];
    const help = [];
    const runs: ProcessRun[] = [];
    await runHoist(args);
    for (let run = 0; run < RUNS; run++) {
      help.push(await runHoist(["--help"]));
      const result = await runHoist(args);
      const rows = result.code === 0 ? (JSON.parse(result.stdout) as unknown[]).length : -1;
      if (rows < NODES) log(`  inventory run ${run + 1}: exit ${result.code}, ${rows} rows: ${result.stderr.slice(0, 300)}`);
      runs.push(result);
    }
    const inProcess: number[] = [];
    const oneWatch: number[] = [];
    let watched = 0;
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      const read = await readInventories(buckets.inventory, cluster);
      inProcess.push(performance.now() - started);
      if (Object.keys(read).length !== NODES) log(`  readInventories saw ${Object.keys(read).length} of ${NODES}`);
      const watchStarted = performance.now();
      watched = await readByOneWatch(buckets.inventory, cluster, NODES);
      oneWatch.push(performance.now() - watchStarted);
    }
    const inventory = {
      command: `hoist ${args.slice(0, 4).join(" ")}`,
      wallMs: runs.map((run) => Math.round(run.wallMs)),
      medianWallMs: Math.round(median(runs.map((run) => run.wallMs))),
      medianCpuS: median(runs.map((run) => run.userS + run.sysS)),
      medianRssMiB: Math.round(median(runs.map((run) => run.maxRssKiB)) / 1024),
      helpMedianWallMs: Math.round(median(help.map((run) => run.wallMs))),
      readInventoriesMedianMs: Math.round(median(inProcess)),
      oneWatchMedianMs: Math.round(median(oneWatch)),
      oneWatchRead: watched,
    };
    results.inventory = inventory;
    log(`  inventory --json, ${NODES} nodes: median ${ms(inventory.medianWallMs)} wall (runs ${inventory.wallMs.join(", ")}), ${inventory.medianCpuS.toFixed(2)} CPU-s, ${inventory.medianRssMiB} MiB`);
    log(`    hoist --help alone ${ms(inventory.helpMedianWallMs)}; in-process readInventories ${ms(inventory.readInventoriesMedianMs)}; one KV watch (${watched} read) ${ms(inventory.oneWatchMedianMs)}`);
  }

  // (b) a rolling rollout of the whole fleet.
  if (PARTS.has("rollout")) {
    const catalog = join(store, "catalog.yaml");
    await writeSimCatalog(catalog);
    const rolloutWrites = await countRolloutWrites(nc);
    const apiBefore = (await jsm.getAccountInfo()).api;
    const storageBefore = (await jsm.getAccountInfo()).storage;
    const firstRecord = simRecords().length;
    const simCpuBefore = await simCpuSeconds();
    const natsCpuBefore = await cpuSecondsOf(nats.process.pid!);
    const consumerSamples: number[] = [];
    const sampler = setInterval(
      () =>
        void jsm.getAccountInfo().then(
          (info) => consumerSamples.push(info.consumers),
          () => undefined,
        ),
      2000,
    );
    const args = [
      "rollout",
      "start",
      "--catalog",
      catalog,
      "--cluster",
      cluster,
      "--service",
      "kv",
      "--to",
      "1.1.0",
      "--batch",
      BATCH,
      "--min-healthy-ms",
      String(MIN_HEALTHY_MS),
      "--healthy-deadline-ms",
      "60000",
      "--progress-deadline-ms",
      "120000",
      "--agent-insecure",
      "--quiet",
      "--nats",
      nats.url,
    ];
    log(`  rollout: hoist ${args.slice(0, -2).join(" ")}`);
    // A simulator of N agents in one process on a loaded machine may miss the preflight's 3 s answer
    // deadline for a few agents; the rollout then fails before any node is touched. Try again (said).
    const profile = CPU_PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF_DIR] : [];
    let run = await runHoist(args, ROLLOUT_TIMEOUT_S, profile);
    let preflightRetries = 0;
    while (run.code !== 0 && /preflight failed/.test(run.stdout) && preflightRetries < 3) {
      preflightRetries += 1;
      log(`  rollout: preflight failed (${(run.stdout.match(/did not answer/g) ?? []).length} agents did not answer in time); starting again (${preflightRetries}/3)`);
      run = await runHoist(args, ROLLOUT_TIMEOUT_S, profile);
    }
    clearInterval(sampler);
    const written = await rolloutWrites.stop();
    const state = (await new RolloutStore(buckets.rollouts).list(cluster)).at(-1)?.value;
    const info = await jsm.getAccountInfo();
    const records = simRecords().slice(firstRecord);
    const simulatorCpuS = (await simCpuSeconds()) - simCpuBefore;
    const natsServerCpuS = (await cpuSecondsOf(nats.process.pid!)) - natsCpuBefore;
    const hop = state?.plan.hops[0];
    const nodes = state ? Object.values(state.hops[0]!.nodes) : [];
    const done = nodes.filter((node) => node.status === "done");
    const lastDone = Math.max(...done.map((node) => node.doneAt ?? 0));
    const figures = hop && done.length === nodes.length ? analyzeRollout({ records, batches: hop.batches, minHealthyMs: MIN_HEALTHY_MS, endAt: lastDone }) : undefined;
    const rollout = {
      command: `hoist ${args.slice(0, -2).join(" ")}`,
      exit: run.code,
      phase: state?.phase,
      nodesDone: done.length,
      nodes: nodes.length,
      wallS: run.wallMs / 1000,
      coordinatorCpuS: run.userS + run.sysS,
      coordinatorRssMiB: Math.round(run.maxRssKiB / 1024),
      simulatorCpuS,
      natsServerCpuS,
      planToFirstStageMs: records.length > 0 && state ? Math.min(...records.map((record) => record.startedAt)) - state.createdAt : undefined,
      jsApiRequests: info.api.total - apiBefore.total,
      jsApiErrors: info.api.errors - apiBefore.errors,
      storageGrowthBytes: info.storage - storageBefore,
      preflightRetries,
      rolloutBucket: { writes: written.writes, stored: written.stored, casRefused: written.refused, bytesWritten: written.bytes, bytesPerNode: Math.round(written.bytes / Math.max(1, nodes.length)) },
      consumersDuring: consumerSamples,
      figures,
      failure: state?.failure,
      coordinatorWarnings: summarizeWarnings(run.stderr),
      stderrTail: run.code === 0 ? undefined : run.stderr.slice(-2000),
      stdoutTail: run.code === 0 ? undefined : run.stdout.slice(-3000),
    };
    results.rollout = rollout;
    log(
      `  rollout: exit ${run.code}, phase ${state?.phase}, ${done.length}/${nodes.length} nodes done in ${rollout.wallS.toFixed(1)} s wall, coordinator ${rollout.coordinatorCpuS.toFixed(1)} CPU-s, ${rollout.coordinatorRssMiB} MiB; simulator ${simulatorCpuS.toFixed(1)} CPU-s, nats-server ${natsServerCpuS.toFixed(1)} CPU-s`,
    );
    if (figures) {
      log(`    ideal (free coordinator) ${(figures.idealMs / 1000).toFixed(1)} s, actual ${(figures.actualMs / 1000).toFixed(1)} s: overhead ${(figures.overheadShare * 100).toFixed(1)}% of the agents' critical path`);
      log(`    between a node's steps: p50 ${ms(figures.gapMs.p50)}, p90 ${ms(figures.gapMs.p90)}, p99 ${ms(figures.gapMs.p99)}, max ${ms(figures.gapMs.max)} (${figures.gapMs.count} gaps)`);
      log(
        `    by hand-off: ${Object.entries(figures.gapByHandOff)
          .map(([handOff, gap]) => `${handOff} p50 ${ms(gap.p50)}, p99 ${ms(gap.p99)} (${gap.count})`)
          .join("; ")}`,
      );
      const first = figures.firstBatchMs;
      log(`    first batch: last stage end -> first drain ${ms(first.stageToFirstDrain)}, drains went out over ${ms(first.drainSpread)}, last rejoin end -> end ${ms(first.lastRejoinToEnd)}`);
      log(`    steps an agent ran more than once: ${JSON.stringify(figures.repeats)}`);
      log(`    JetStream API requests ${rollout.jsApiRequests} (errors ${rollout.jsApiErrors}), storage +${(rollout.storageGrowthBytes / 2 ** 20).toFixed(1)} MiB, consumers during: ${[...new Set(consumerSamples)].join(",")}`);
    }
    log(
      `    rollout bucket: ${written.writes} writes, ${written.stored} stored, ${rollout.rolloutBucket.casRefused} refused by compare-and-set; ${(written.bytes / 2 ** 20).toFixed(1)} MiB written, ${rollout.rolloutBucket.bytesPerNode} bytes per node`,
    );
    log(`    coordinator warnings: ${JSON.stringify(rollout.coordinatorWarnings)}`);
    if (state?.failure) log(`    failure: ${JSON.stringify(state.failure)}`);
    if (run.code !== 0) log(`    rollout start said: ${run.stdout.slice(-1500)}`);
  }
  results.loadAtEnd = loadavg();
} finally {
  await fleet?.stop();
  await simProcesses?.stop();
  await nc.close().catch(() => undefined);
  await nats.stop();
  await rm(store, { recursive: true, force: true });
}

const out = await benchResultFile(env.HOIST_FLEET_OUT ?? "fleet-latest.json");
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
log(`written ${out}`);
