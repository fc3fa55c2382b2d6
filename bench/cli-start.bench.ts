/**
 * CLI start benchmark: how long the `hoist` command takes from spawn to exit, against `node -e 0`
 * (Node's own start, the floor) in the same run, as a ratio. `npm run bench:cli`.
 *
 * Commands, run in turn round after round (interleaved, so that outside load hits all alike):
 *   node -e 0                              the floor
 *   hoist --help / hoist status --json     the built CLI (bin/hoist.mjs -> dist/cli, `npm run build`)
 *   the same from the sources              tsx compiling TypeScript at start (what bin/hoist.mjs did before)
 * `hoist status --json` reads a real node: the sample service installed and running (1.0.0).
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_CLI_ROUNDS   rounds (default 15; median and min reported)
 * The figures are also written to bench/results/runs/cli-start-latest.json (git-ignored).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { benchResultFile } from "./results-file.ts";
import { ensureSampleReleases, freePort, killSampleServer, readSamplePid, sampleCatalogPath, sampleServiceConfig } from "../test/helpers/sample-service.ts";

const root = join(import.meta.dirname, "..");
const rounds = Number(process.env.HOIST_BENCH_CLI_ROUNDS ?? 15);
const bin = join(root, "bin", "hoist.mjs");
const source = ["--import", "tsx", join(root, "cli", "main.ts")];

execFileSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], { stdio: "inherit" });
await ensureSampleReleases();
const dir = await mkdtemp(join(tmpdir(), "hoist-bench-cli-"));
const port = await freePort();
await mkdir(join(dir, "run"), { recursive: true });
const configPath = join(dir, "agent.yaml");
await writeFile(configPath, stringify({ node: "bench-1", cluster: "bench", stateDir: join(dir, "state"), catalog: sampleCatalogPath(), services: [sampleServiceConfig({ root: dir, port })] }));

function run(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited with ${result.status}: ${result.stderr.toString()}`);
  return seconds;
}

const commands: [string, string[]][] = [
  ["node -e 0", ["-e", "0"]],
  ["hoist --help (built)", [bin, "--help"]],
  ["hoist status --json (built)", [bin, "status", "-c", configPath, "--json"]],
  ["hoist --help (sources, tsx)", [...source, "--help"]],
  ["hoist status --json (sources, tsx)", [...source, "status", "-c", configPath, "--json"]],
];

const loadAtStart = loadavg();
const times = new Map<string, number[]>(commands.map(([name]) => [name, []]));
try {
  run([bin, "upgrade", "-c", configPath, "--to", "1.0.0"]);
  for (const [, args] of commands) run(args); // warm-up: page cache, compile caches
  for (let round = 0; round < rounds; round++) {
    for (const [name, args] of commands) times.get(name)!.push(run(args));
  }
} finally {
  const pid = await readSamplePid(join(dir, "run"));
  if (pid !== undefined) await killSampleServer(pid);
  await rm(dir, { recursive: true, force: true });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const floor = median(times.get("node -e 0")!);
const table = commands.map(([name]) => {
  const values = times.get(name)!;
  return { command: name, medianS: Number(median(values).toFixed(3)), minS: Number(Math.min(...values).toFixed(3)), ratioToNode: Number((median(values) / floor).toFixed(2)) };
});
const loadAtEnd = loadavg();
process.stdout.write(`${rounds} rounds, ${cpus().length} cores, load ${loadAtStart[0]!.toFixed(2)} at start, ${loadAtEnd[0]!.toFixed(2)} at end\n`);
process.stdout.write(`${"command".padEnd(38)} ${"median s".padStart(9)} ${"min s".padStart(7)} ${"x node".padStart(7)}\n`);
for (const row of table) process.stdout.write(`${row.command.padEnd(38)} ${row.medianS.toFixed(3).padStart(9)} ${row.minS.toFixed(3).padStart(7)} ${row.ratioToNode.toFixed(2).padStart(7)}\n`);
const out = await benchResultFile("cli-start-latest.json");
await writeFile(out, `${JSON.stringify({ when: new Date().toISOString(), cores: cpus().length, rounds, loadAtStart, loadAtEnd, table }, null, 2)}\n`);
process.stdout.write(`written ${out}\n`);
