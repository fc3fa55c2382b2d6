import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** A child process the demo started, with its output kept (bounded) and optionally streamed by line. */
export interface TrackedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when it exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Every line of stdout (and of stderr, with `stderr` true) as it comes. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

const KEEP_BYTES = 256 * 1024;

/**
 * Every process the demo starts goes through here, so that one stopAll() ends them all: on
 * success, on failure and on Ctrl-C. (Services the agents start in their own session are not
 * children of the demo; the fleet stops those by their pid files.)
 */
export class DemoProcesses {
  private readonly running = new Set<TrackedProcess>();

  spawn(name: string, file: string, args: string[], options: SpawnOptions = {}): TrackedProcess {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("error", (error) => {
        err += `cannot start ${file}: ${error.message}\n`;
        resolve({ code: null, signal: null });
      });
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    const tracked: TrackedProcess = { name, child, exited, stdout: () => out, stderr: () => err };
    this.running.add(tracked);
    void exited.then(() => this.running.delete(tracked));
    createInterface({ input: child.stdout }).on("line", (line) => {
      out = (out + line + "\n").slice(-KEEP_BYTES);
      options.onLine?.(line, "stdout");
    });
    createInterface({ input: child.stderr }).on("line", (line) => {
      err = (err + line + "\n").slice(-KEEP_BYTES);
      options.onLine?.(line, "stderr");
    });
    return tracked;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(tracked: TrackedProcess, options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
    const { child } = tracked;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill(options.signal ?? "SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), options.graceMs ?? 10_000);
      await tracked.exited;
      clearTimeout(killer);
    }
    await tracked.exited;
  }

  /** Stops every process still running, all at once. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((tracked) => this.stop(tracked)));
  }
}
