import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { StepRecord } from "../../scripts/fleet-sim/sim-node-agent.ts";
import type { SimStep } from "../../scripts/fleet-sim/timing.ts";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "fleet-sim", "main.ts");

export interface FleetProcessesOptions {
  servers: string[];
  cluster: string;
  /** Agents in all. */
  nodes: number;
  /** Simulator processes; each runs its share of the agents, node ids `sK-0001` ... */
  processes: number;
  version: string;
  timings: Partial<Record<SimStep, string>>;
  seed: number;
  /** Each process is killed if it has not said ready within this (joining 1,000 agents takes 8-18 s). */
  readyTimeoutMs?: number;
}

export interface FleetProcesses {
  /** Every step of work so far, from every process, in the order the lines arrived. */
  records: StepRecord[];
  /** What each process said when every agent of it had joined. */
  ready: { nodes: number; joinMs: number; rssMiB: number }[];
  /** CPU seconds (user + system) of every simulator process so far. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/** CPU seconds (user + system) a process used so far, from /proc (clock ticks of 10 ms). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs a simulated fleet as several processes of scripts/fleet-sim/main.ts (one node process each,
 * `--import tsx`, so its pid is the simulator's own), so that one event loop of 3,000 agents does not
 * starve them: each process gets an equal share of the agents and its own node prefix, and prints
 * every step of work as a JSON line (`--records`), gathered into `records` for the analysis.
 */
export async function startFleetProcesses(options: FleetProcessesOptions): Promise<FleetProcesses> {
  const records: StepRecord[] = [];
  const ready: FleetProcesses["ready"] = [];
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  };
  const starting = Array.from({ length: options.processes }, (_, index) => {
    const share = Math.floor(options.nodes / options.processes) + (index < options.nodes % options.processes ? 1 : 0);
    const timing = Object.entries(options.timings).flatMap(([step, spec]) => ["--timing", `${step}=${spec}`]);
    const args = ["--import", "tsx", MAIN, "--nats", options.servers.join(","), "--cluster", options.cluster, "--nodes", String(share), "--version", options.version];
    args.push("--prefix", `s${index + 1}-`, "--seed", String(options.seed + index), "--records", ...timing);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`simulator process ${index + 1} (${share} agents) was not ready within ${options.readyTimeoutMs ?? 300_000} ms`)), options.readyTimeoutMs ?? 300_000);
      child.once("exit", (code, signal) => reject(new Error(`simulator process ${index + 1} exited (${code ?? signal}) before it was ready`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (!line.startsWith("{")) return;
        const message = JSON.parse(line) as { step?: StepRecord; ready?: boolean; nodes: number; joinMs: number; rssMiB: number };
        if (message.step) records.push(message.step);
        else if (message.ready) {
          clearTimeout(timer);
          ready.push({ nodes: message.nodes, joinMs: message.joinMs, rssMiB: message.rssMiB });
          resolve();
        }
      });
    });
  });
  try {
    await Promise.all(starting);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    records,
    ready,
    cpuSeconds: async () => (await Promise.all(children.map((child) => cpuSecondsOf(child.pid!).catch(() => 0)))).reduce((sum, value) => sum + value, 0),
    stop,
  };
}
