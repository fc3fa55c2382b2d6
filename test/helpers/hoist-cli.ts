import { spawn } from "node:child_process";
import { join } from "node:path";

export const HOIST_BIN = join(import.meta.dirname, "..", "..", "bin", "hoist.mjs");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface HoistRunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Options for node itself, before bin/hoist.mjs (`--import FILE`). */
  nodeArgs?: string[];
}

/**
 * Runs the real `hoist` command (bin/hoist.mjs, which runs the build in dist/cli that the test
 * suite's global setup makes, as `npm ci` does) as a child process and waits for it to end.
 */
export function runHoist(args: string[], options: HoistRunOptions = {}): Promise<CliResult> {
  return startHoist(args, options).done;
}

/** A `hoist` command running in the background: the test can watch its output, signal it, await it. */
export interface RunningHoist {
  pid: number;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  kill(signal: NodeJS.Signals): void;
  done: Promise<CliResult>;
}

/** Starts the real `hoist` command as a child process without waiting for it (killed after the test at the latest via its timeout). */
export function startHoist(args: string[], options: HoistRunOptions = {}): RunningHoist {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), HOIST_BIN, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: options.timeoutMs ?? 120_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    pid: child.pid ?? -1,
    output: () => ({ stdout, stderr }),
    kill: (signal) => void child.kill(signal),
    done,
  };
}
