/**
 * Agent benchmark: the idle agent daemon's resident memory against `node -e` (bare, and with the
 * npm packages the agent imports at start), GetInventory latency against a gRPC server that answers
 * a fixed message of the same size, and the agent's memory around a big snapshot, in the same run.
 * `npm run bench:agent`.
 *
 * The agent manages one real service (the sample kv, installed with `hoist upgrade` first), serves
 * gRPC and is on a real nats-server, as a daemon on a node is. It runs as shipped (`bin/hoist.mjs
 * agent run`, the build in dist/cli) two ways: plain, and as examples/systemd/hoist-agent.service runs
 * it (with the unit's NODE_OPTIONS); the `node -e` peers run both ways too.
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_AGENT_ROUNDS        rounds of the memory measurements (default 3; medians reported)
 *   HOIST_BENCH_AGENT_IDLE_MS       how long each process idles before its memory is read (default 5000)
 *   HOIST_BENCH_AGENT_CALLS         GetInventory calls and as many echo calls, interleaved in blocks of 50 (default 3000)
 *   HOIST_BENCH_AGENT_SNAPSHOT_MIB  size of the data dir snapshotted at the end (default 1024; 0 skips it)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { startLocalNatsServer } from "../shared/nats-server/index.ts";
import { freePort } from "../scripts/lib/free-port.ts";
import { ensureSampleReleases, killSampleServer, readSamplePid, sampleCatalogPath, sampleServiceConfig } from "../test/helpers/sample-service.ts";
import { createAgentClient } from "../shared/proto/index.ts";
import { generateDataDir } from "./generate-data.ts";
import { readProcMemory, type ProcMemory } from "./agent/proc-memory.ts";
import { quantile, rawUnary } from "./agent/unary-latency.ts";

const rounds = Number(process.env.HOIST_BENCH_AGENT_ROUNDS ?? 3);
const idleMs = Number(process.env.HOIST_BENCH_AGENT_IDLE_MS ?? 5000);
const calls = Number(process.env.HOIST_BENCH_AGENT_CALLS ?? 3000);
const snapshotMib = Number(process.env.HOIST_BENCH_AGENT_SNAPSHOT_MIB ?? 1024);
const BLOCK = 50;

const root = join(import.meta.dirname, "..");
// Two dirs below the root, as every source file is: paths the code resolves from its own place (proto/) hold.
const buildDir = join(root, ".cache", "bench-agent");
const hoistBin = join(root, "bin", "hoist.mjs");
const GET_INVENTORY = "/hoist.agent.v1.Agent/GetInventory";

/**
 * The npm packages the agent has loaded once it answers, as it runs (the libs peer imports the same):
 * the agent started with test/fixtures/cli/record-imports.mjs, which records every module URL it
 * resolves; those under node_modules name the packages loaded from there, and the source maps of the
 * dist/cli chunks it loaded name the packages bundled into them (zod, yaml, commander). What is
 * imported on first use (prom-client without metrics:, node-tar) is not in the list.
 */
async function agentPackages(agentArgs: string[], ready: () => Promise<boolean>): Promise<string[]> {
  const file = join(buildDir, "agent-imports.txt");
  await mkdir(buildDir, { recursive: true });
  await rm(file, { force: true });
  const started = start(["--import", join(root, "test", "fixtures", "cli", "record-imports.mjs"), hoistBin, ...agentArgs], { ...process.env, NODE_OPTIONS: "", HOIST_TEST_IMPORTS_FILE: file });
  try {
    await waitUntil("the agent (recording its imports)", ready);
  } finally {
    await started.stop();
  }
  const urls = [...new Set((await readFile(file, "utf8")).split("\n").filter(Boolean))];
  const packages = new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
  for (const url of urls.filter((url) => url.includes("/dist/cli/") && url.endsWith(".mjs"))) {
    const map = JSON.parse(await readFile(`${fileURLToPath(url)}.map`, "utf8")) as { sources: string[] };
    for (const source of map.sources) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source)?.[1];
      if (name) packages.add(name);
    }
  }
  // fs-ext is loaded with createRequire (a native addon; agent/state/owner-lock.ts), which the hook does not see.
  return [...packages, "fs-ext"].sort();
}

/** NODE_OPTIONS of examples/systemd/hoist-agent.service (`Environment="NODE_OPTIONS=..."`). */
async function unitNodeOptions(): Promise<string> {
  const unit = await readFile(join(root, "examples", "systemd", "hoist-agent.service"), "utf8");
  const match = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(unit);
  if (!match) throw new Error("examples/systemd/hoist-agent.service sets no NODE_OPTIONS");
  return match[1]!;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: "" }): Started {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

async function waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not get ready within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function answersGetInventory(address: string): Promise<boolean> {
  const client = rawUnary(address, GET_INVENTORY);
  try {
    await client.call();
    return true;
  } finally {
    client.close();
  }
}

/** Starts a process, waits until `ready`, lets it idle, reads its memory, stops it. */
async function idleMemory(args: string[], ready: (started: Started) => Promise<boolean>, env?: NodeJS.ProcessEnv): Promise<ProcMemory> {
  const started = start(args, env);
  try {
    await waitUntil(args.join(" "), () => ready(started));
    await sleep(idleMs);
    return await readProcMemory(started.child.pid!);
  } finally {
    await started.stop();
  }
}

function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

async function main(): Promise<void> {
  const load = { before: loadavg(), after: [] as number[] };
  await ensureSampleReleases();
  execFileSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], { stdio: "inherit" });
  const nodeOptions = await unitNodeOptions();
  const unitEnv = { ...process.env, NODE_OPTIONS: nodeOptions };
  const work = await mkdtemp(join(tmpdir(), "hoist-bench-agent-"));
  const nats = await startLocalNatsServer({ storeDir: join(work, "nats") });
  const kvPort = await freePort();
  const grpcPort = await freePort();
  const address = `127.0.0.1:${grpcPort}`;
  const configPath = join(work, "agent.yaml");
  await mkdir(join(work, "run"), { recursive: true });
  await writeFile(
    configPath,
    stringify({
      node: "bench-1",
      cluster: "bench",
      stateDir: join(work, "state"),
      catalog: sampleCatalogPath(),
      services: [sampleServiceConfig({ root: work, port: kvPort, node: "bench-1" })],
      grpc: { listen: address, insecure: true },
      nats: { servers: [nats.url] },
    }),
  );
  try {
    const installed = start([hoistBin, "upgrade", "-c", configPath, "--to", "1.0.0"]);
    const installExit = await new Promise<number | null>((resolve) => installed.child.once("exit", resolve));
    if (installExit !== 0) throw new Error(`hoist upgrade to 1.0.0 failed: ${installed.output()}`);

    const agentReady = async () => answersGetInventory(address);
    const agentArgs = ["agent", "run", "-c", configPath, "--log-level", "warn"];
    const packages = await agentPackages(agentArgs, agentReady);
    const keepAlive = "setInterval(() => {}, 1 << 30); console.log('READY');";
    const libsScript = `for (const name of ${JSON.stringify(packages)}) await import(name); ${keepAlive}`;
    const printedReady = async (started: Started) => started.output().includes("READY");
    const variants: { name: string; args: string[]; ready: (started: Started) => Promise<boolean>; env?: NodeJS.ProcessEnv }[] = [
      { name: "node -e (bare)", args: ["-e", keepAlive], ready: printedReady },
      { name: "node -e with the agent's npm packages", args: ["--input-type=module", "-e", libsScript], ready: printedReady },
      { name: "agent: hoist agent run (the build)", args: [hoistBin, ...agentArgs], ready: agentReady },
      { name: "node -e with the packages, unit's NODE_OPTIONS", args: ["--input-type=module", "-e", libsScript], ready: printedReady, env: unitEnv },
      { name: "agent: as the systemd unit runs it", args: [hoistBin, ...agentArgs], ready: agentReady, env: unitEnv },
    ];
    const memory = new Map<string, ProcMemory[]>(variants.map((variant) => [variant.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        memory.get(variant.name)!.push(await idleMemory(variant.args, variant.ready, variant.env));
        process.stderr.write(".");
      }
    }
    process.stderr.write("\n");

    // Latency, and the agent's peak after serving the calls: as the unit runs it, beside the fixed-message server.
    const agent = start([hoistBin, ...agentArgs], unitEnv);
    let echo: Started | undefined;
    let latency: Latency;
    let snapshot: SnapshotMemory | undefined;
    try {
      await waitUntil("the agent", agentReady);
      await sleep(idleMs);
      const inventory = rawUnary(address, GET_INVENTORY);
      const { bytes } = await inventory.call();
      echo = start([join(import.meta.dirname, "agent", "echo-server.mjs"), String(bytes.length)]);
      await waitUntil("the echo server", async () => /PORT \d+/.test(echo!.output()));
      const fixed = rawUnary(`127.0.0.1:${/PORT (\d+)/.exec(echo.output())![1]}`, "/bench.Echo/Echo");
      for (let i = 0; i < 200; i++) await Promise.all([inventory.call(), fixed.call()]);
      const samples = { inventory: [] as number[], echo: [] as number[] };
      for (let done = 0; done < calls; done += BLOCK) {
        for (let i = 0; i < BLOCK; i++) samples.inventory.push((await inventory.call()).ms);
        for (let i = 0; i < BLOCK; i++) samples.echo.push((await fixed.call()).ms);
      }
      inventory.close();
      fixed.close();
      latency = { ...samples, bytes: bytes.length, agentAfter: await readProcMemory(agent.child.pid!), echoAfter: await readProcMemory(echo.child.pid!) };
      if (snapshotMib > 0) snapshot = await snapshotMemory(agent, address, join(work, "data"));
    } finally {
      await echo?.stop();
      await agent.stop();
    }
    load.after = loadavg();
    await saveRun(report({ packages, nodeOptions, memory, latency, snapshot, load }));
  } finally {
    const pid = await readSamplePid(join(work, "run"));
    if (pid !== undefined) await killSampleServer(pid);
    await nats.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The agent's memory around one snapshot of a data dir of `snapshotMib` MiB, taken over gRPC. */
interface SnapshotMemory {
  files: number;
  mib: number;
  seconds: number;
  before: ProcMemory;
  after: ProcMemory;
  /** 10 s after the snapshot returned (past the agent's collection, 6 s after its last change). */
  later: ProcMemory;
}

async function snapshotMemory(agent: Started, address: string, dataDir: string): Promise<SnapshotMemory> {
  const data = await generateDataDir(dataDir, snapshotMib);
  await sleep(idleMs);
  const client = createAgentClient(address, { insecure: true });
  try {
    const before = await readProcMemory(agent.child.pid!);
    const started = performance.now();
    const summary = await client.snapshot("kv", { deadlineMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    const after = await readProcMemory(agent.child.pid!);
    await sleep(10_000);
    return { files: summary.files, mib: data.bytes / 2 ** 20, seconds, before, after, later: await readProcMemory(agent.child.pid!) };
  } finally {
    client.close();
  }
}

interface Latency {
  inventory: number[];
  echo: number[];
  /** Size of the GetInventory response (the echo server answers as many bytes). */
  bytes: number;
  agentAfter: ProcMemory;
  echoAfter: ProcMemory;
}

function report(input: { packages: string[]; nodeOptions: string; memory: Map<string, ProcMemory[]>; latency: Latency; snapshot: SnapshotMemory | undefined; load: { before: number[]; after: number[] } }): object {
  const { memory, latency, snapshot } = input;
  const medians = new Map(
    [...memory].map(([name, samples]) => [name, { rss: median(samples.map((s) => s.rss)), peak: median(samples.map((s) => s.peak)), anon: median(samples.map((s) => s.anon)), file: median(samples.map((s) => s.file)) }]),
  );
  const bare = medians.get("node -e (bare)")!;
  // The libs peer run the same way as the row: plain, or with the unit's NODE_OPTIONS.
  const libsFor = (name: string) => medians.get(name.includes("unit") ? "node -e with the packages, unit's NODE_OPTIONS" : "node -e with the agent's npm packages")!;
  const mib = (value: number) => value.toFixed(1).padStart(6);
  const lines = [`idle memory, MiB (median of ${rounds} rounds, each after ${idleMs} ms idle)`, `${"process".padEnd(48)}   rss   peak   anon   file  rss/bare  rss/libs  anon/libs`];
  for (const [name, m] of medians) {
    const libs = libsFor(name);
    lines.push(
      `${name.padEnd(48)}${mib(m.rss)} ${mib(m.peak)} ${mib(m.anon)} ${mib(m.file)}  ${(m.rss / bare.rss).toFixed(2).padStart(8)}  ${(m.rss / libs.rss).toFixed(2).padStart(8)}  ${(m.anon / libs.anon).toFixed(2).padStart(9)}`,
    );
  }
  const p = (samples: number[], q: number) => quantile(samples, q);
  const ratio = (q: number) => (p(latency.inventory, q) / p(latency.echo, q)).toFixed(2);
  lines.push(
    "",
    `npm packages the agent imports at start (the libs peer imports the same): ${input.packages.join(", ")}`,
    `the unit's NODE_OPTIONS: ${input.nodeOptions}`,
    `after ${latency.inventory.length} calls each: agent (as the unit runs it) rss ${latency.agentAfter.rss.toFixed(1)} MiB, peak ${latency.agentAfter.peak.toFixed(1)} MiB; echo server rss ${latency.echoAfter.rss.toFixed(1)} MiB, peak ${latency.echoAfter.peak.toFixed(1)} MiB`,
    "",
    `unary latency, ms (${latency.inventory.length} calls each, interleaved in blocks of ${BLOCK}; response ${latency.bytes} bytes)`,
    `${"call".padEnd(48)}   p50    p99`,
    `${"GetInventory (agent, from its cache)".padEnd(48)}${p(latency.inventory, 0.5).toFixed(3).padStart(6)} ${p(latency.inventory, 0.99).toFixed(3).padStart(6)}`,
    `${"fixed message of the same size (echo server)".padEnd(48)}${p(latency.echo, 0.5).toFixed(3).padStart(6)} ${p(latency.echo, 0.99).toFixed(3).padStart(6)}`,
    `${"ratio".padEnd(48)}${ratio(0.5).padStart(6)} ${ratio(0.99).padStart(6)}`,
    "",
    snapshot
      ? `snapshot of ${snapshot.mib.toFixed(0)} MiB / ${snapshot.files} files over gRPC in ${snapshot.seconds.toFixed(1)} s: agent rss before ${snapshot.before.rss.toFixed(1)} MiB, right after ${snapshot.after.rss.toFixed(1)}, peak ${snapshot.after.peak.toFixed(1)}, 10 s after ${snapshot.later.rss.toFixed(1)} (anon ${snapshot.later.anon.toFixed(1)})`
      : "snapshot: skipped (HOIST_BENCH_AGENT_SNAPSHOT_MIB=0)",
    "",
    `load average before ${input.load.before.map((value) => value.toFixed(2)).join(" ")}, after ${input.load.after.map((value) => value.toFixed(2)).join(" ")} (${cpus().length} cores)`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  return {
    when: new Date().toISOString(),
    cores: cpus().length,
    rounds,
    idleMs,
    packages: input.packages,
    memory: Object.fromEntries(memory),
    medians: Object.fromEntries(medians),
    latency: { calls: latency.inventory.length, bytes: latency.bytes, inventory: { p50: p(latency.inventory, 0.5), p99: p(latency.inventory, 0.99) }, echo: { p50: p(latency.echo, 0.5), p99: p(latency.echo, 0.99) } },
    nodeOptions: input.nodeOptions,
    snapshot,
    agentAfterCalls: latency.agentAfter,
    echoAfterCalls: latency.echoAfter,
    load: input.load,
  };
}

/** Writes the run to bench/results/runs/agent-latest.json (git-ignored; copy a run to bench/results/ by hand to record it). */
async function saveRun(run: object): Promise<void> {
  const dir = join(import.meta.dirname, "results", "runs");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "agent-latest.json"), `${JSON.stringify(run, null, 2)}\n`);
}

await main();
