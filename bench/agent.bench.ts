/**
 * Agent benchmark: the idle agent daemon's resident memory against `node -e` (bare, and with the
 * npm packages the agent imports at start), and GetInventory latency against a gRPC server that
 * answers a fixed message of the same size, in the same run. `npm run bench:agent`.
 *
 * The agent manages one real service (the sample kv, installed with `hoist upgrade` first), serves
 * gRPC and is on a real nats-server, as a daemon on a node is. It runs three ways: an esbuild bundle
 * of `hoist agent run` (npm packages external, as the compiled `hoist` is built), the same with
 * `--max-semi-space-size=1`, and `bin/hoist.mjs agent run` as the repository ships it.
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_AGENT_ROUNDS   rounds of the memory measurements (default 3; medians reported)
 *   HOIST_BENCH_AGENT_IDLE_MS  how long each process idles before its memory is read (default 5000)
 *   HOIST_BENCH_AGENT_CALLS    GetInventory calls and as many echo calls, interleaved in blocks of 50 (default 3000)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { stringify } from "yaml";
import { startLocalNatsServer } from "../shared/nats-server/index.ts";
import { freePort } from "../scripts/lib/free-port.ts";
import { ensureSampleReleases, killSampleServer, readSamplePid, sampleCatalogPath, sampleServiceConfig } from "../test/helpers/sample-service.ts";
import { readProcMemory, type ProcMemory } from "./agent/proc-memory.ts";
import { quantile, rawUnary } from "./agent/unary-latency.ts";

const rounds = Number(process.env.HOIST_BENCH_AGENT_ROUNDS ?? 3);
const idleMs = Number(process.env.HOIST_BENCH_AGENT_IDLE_MS ?? 5000);
const calls = Number(process.env.HOIST_BENCH_AGENT_CALLS ?? 3000);
const BLOCK = 50;

const root = join(import.meta.dirname, "..");
// Two dirs below the root, as every source file is: paths the code resolves from its own place (proto/) hold.
const buildDir = join(root, ".cache", "bench-agent");
const hoistBin = join(root, "bin", "hoist.mjs");
const GET_INVENTORY = "/hoist.agent.v1.Agent/GetInventory";

/** Bundles `hoist agent run`; returns the bundle and the npm packages it imports statically (dynamic imports are loaded on first use). */
async function bundleAgent(): Promise<{ file: string; packages: string[] }> {
  const file = join(buildDir, "daemon.mjs");
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(import.meta.dirname, "agent", "daemon-entry.ts")],
    outfile: file,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    metafile: true,
    logLevel: "warning",
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
  const packages = imports.filter((entry) => entry.external && entry.kind === "import-statement" && !entry.path.startsWith("node:")).map((entry) => packageName(entry.path));
  // fs-ext is loaded with createRequire (a native addon; agent/state/owner-lock.ts), which esbuild does not see.
  return { file, packages: [...new Set([...packages, "fs-ext"])].sort() };
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Started {
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
  const { file: bundle, packages } = await bundleAgent();
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

    const keepAlive = "setInterval(() => {}, 1 << 30); console.log('READY');";
    const libsScript = `for (const name of ${JSON.stringify(packages)}) await import(name); ${keepAlive}`;
    const printedReady = async (started: Started) => started.output().includes("READY");
    const agentReady = async () => answersGetInventory(address);
    const agentArgs = ["agent", "run", "-c", configPath, "--log-level", "warn"];
    const variants: { name: string; args: string[]; ready: (started: Started) => Promise<boolean> }[] = [
      { name: "node -e (bare)", args: ["-e", keepAlive], ready: printedReady },
      { name: "node -e with the agent's npm packages", args: ["--input-type=module", "-e", libsScript], ready: printedReady },
      { name: "agent: esbuild bundle of `hoist agent run`", args: [bundle, ...agentArgs], ready: agentReady },
      { name: "agent: bundle, --max-semi-space-size=1", args: ["--max-semi-space-size=1", bundle, ...agentArgs], ready: agentReady },
      { name: "agent: bin/hoist.mjs agent run (as shipped)", args: [hoistBin, ...agentArgs], ready: agentReady },
    ];
    const memory = new Map<string, ProcMemory[]>(variants.map((variant) => [variant.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        memory.get(variant.name)!.push(await idleMemory(variant.args, variant.ready));
        process.stderr.write(".");
      }
    }
    process.stderr.write("\n");

    // Latency, and the agent's peak after serving the calls: the bundle, beside the fixed-message server.
    const agent = start([bundle, ...agentArgs]);
    let echo: Started | undefined;
    let latency: Latency;
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
    } finally {
      await echo?.stop();
      await agent.stop();
    }
    load.after = loadavg();
    await saveRun(report({ packages, memory, latency, load }));
  } finally {
    const pid = await readSamplePid(join(work, "run"));
    if (pid !== undefined) await killSampleServer(pid);
    await nats.stop();
    await rm(work, { recursive: true, force: true });
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

function report(input: { packages: string[]; memory: Map<string, ProcMemory[]>; latency: Latency; load: { before: number[]; after: number[] } }): object {
  const { memory, latency } = input;
  const medians = new Map(
    [...memory].map(([name, samples]) => [name, { rss: median(samples.map((s) => s.rss)), peak: median(samples.map((s) => s.peak)), anon: median(samples.map((s) => s.anon)), file: median(samples.map((s) => s.file)) }]),
  );
  const bare = medians.get("node -e (bare)")!;
  const libs = medians.get("node -e with the agent's npm packages")!;
  const mib = (value: number) => value.toFixed(1).padStart(6);
  const lines = [`idle memory, MiB (median of ${rounds} rounds, each after ${idleMs} ms idle)`, `${"process".padEnd(48)}   rss   peak   anon   file  rss/bare  rss/libs  anon/libs`];
  for (const [name, m] of medians) {
    lines.push(
      `${name.padEnd(48)}${mib(m.rss)} ${mib(m.peak)} ${mib(m.anon)} ${mib(m.file)}  ${(m.rss / bare.rss).toFixed(2).padStart(8)}  ${(m.rss / libs.rss).toFixed(2).padStart(8)}  ${(m.anon / libs.anon).toFixed(2).padStart(9)}`,
    );
  }
  const p = (samples: number[], q: number) => quantile(samples, q);
  const ratio = (q: number) => (p(latency.inventory, q) / p(latency.echo, q)).toFixed(2);
  lines.push(
    "",
    `npm packages the agent imports at start (the libs peer imports the same): ${input.packages.join(", ")}`,
    `after ${latency.inventory.length} calls each: agent (bundle) rss ${latency.agentAfter.rss.toFixed(1)} MiB, peak ${latency.agentAfter.peak.toFixed(1)} MiB; echo server rss ${latency.echoAfter.rss.toFixed(1)} MiB, peak ${latency.echoAfter.peak.toFixed(1)} MiB`,
    "",
    `unary latency, ms (${latency.inventory.length} calls each, interleaved in blocks of ${BLOCK}; response ${latency.bytes} bytes)`,
    `${"call".padEnd(48)}   p50    p99`,
    `${"GetInventory (agent bundle, from its cache)".padEnd(48)}${p(latency.inventory, 0.5).toFixed(3).padStart(6)} ${p(latency.inventory, 0.99).toFixed(3).padStart(6)}`,
    `${"fixed message of the same size (echo server)".padEnd(48)}${p(latency.echo, 0.5).toFixed(3).padStart(6)} ${p(latency.echo, 0.99).toFixed(3).padStart(6)}`,
    `${"ratio".padEnd(48)}${ratio(0.5).padStart(6)} ${ratio(0.99).padStart(6)}`,
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
