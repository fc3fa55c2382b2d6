import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HoistError } from "../errors/index.ts";

export interface LocalNatsOptions {
  /** JetStream store dir (kept across restarts). */
  storeDir: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  host?: string;
  binary?: string;
  /** Run JetStream (default true; false only for tests of what Hoist says to a server without it). */
  jetstream?: boolean;
}

export interface LocalNatsServer {
  url: string;
  port: number;
  readonly process: ChildProcess;
  /** Kills it with SIGKILL (for fault tests); `restart()` brings it back on the same port and store. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Finds nats-server: the given path, $PATH, or Debian's /usr/sbin/nats-server. */
export function findNatsServerBinary(explicit?: string): string {
  const candidates = [explicit, "/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].filter((path): path is string => !!path);
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new HoistError("NOT_FOUND", "nats-server is not installed: run `npm run setup` (installs Debian's nats-server) or pass NATS URLs");
  }
  return found;
}

/**
 * Starts a local nats-server with JetStream (the embedded default of the coordinator, the demo and
 * the tests): free port unless one is given, store in `storeDir`, resolves once it listens.
 * It resolves only once the server it started says (in its ports file, named by its pid) that it
 * listens, so a port held by another server is never taken for this one: UNAVAILABLE (details
 * `{ port }`) when the server exits instead, with its last words (`address already in use`).
 */
export async function startLocalNatsServer(options: LocalNatsOptions): Promise<LocalNatsServer> {
  const binary = findNatsServerBinary(options.binary);
  const host = options.host ?? "127.0.0.1";
  const portsDir = join(options.storeDir, "ports");
  await mkdir(options.storeDir, { recursive: true });
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir, { recursive: true });
  const baseArgs = ["-a", host, ...(options.jetstream === false ? [] : ["-js"]), "-sd", join(options.storeDir, "jetstream"), "--ports_file_dir", portsDir];
  let child = await launch(binary, [...baseArgs, "-p", String(options.port || -1)]);
  const port = await readPortsFile(portsDir, child, options.port || undefined);
  return {
    url: `nats://${host}:${port}`,
    port,
    get process() {
      return child;
    },
    async kill() {
      await stopChild(child, "SIGKILL");
    },
    async restart() {
      child = await launch(binary, [...baseArgs, "-p", String(port)]);
      await readPortsFile(portsDir, child, port);
    },
    async stop() {
      await stopChild(child, "SIGTERM");
    },
  };
}

/** What each server we started last wrote on stderr (its reason when it exits at start). */
const lastWords = new WeakMap<ChildProcess, string>();

async function launch(binary: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => lastWords.set(child, ((lastWords.get(child) ?? "") + text).slice(-2000)));
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new HoistError("UNAVAILABLE", `cannot start ${binary}: ${err.message}`, { cause: err })));
  });
  return child;
}

function exitedAtStart(child: ChildProcess, port: number | undefined): HoistError {
  const reason = (lastWords.get(child) ?? "")
    .trim()
    .split("\n")
    .pop()
    ?.replace(/^\[\d+\]\s+\S+\s+\S+\s+/, "");
  const where = port === undefined ? "" : ` on port ${port}`;
  return new HoistError("UNAVAILABLE", `nats-server exited with code ${child.exitCode} instead of listening${where}${reason ? `: ${reason}` : ""}`, { details: { ...(port === undefined ? {} : { port }) } });
}

/** How long a server may take to listen (a restart recovers its JetStream store first). */
const START_BOUND_MS = 30_000;

/** The port our server (`child`, by pid) says it listens on, once it does (it writes the file once it listens). */
async function readPortsFile(portsDir: string, child: ChildProcess, port: number | undefined): Promise<number> {
  for (const started = Date.now(); Date.now() - started < START_BOUND_MS;) {
    if (child.exitCode !== null || child.signalCode !== null) throw exitedAtStart(child, port);
    const name = (await readdir(portsDir).catch(() => [] as string[])).find((file) => file.endsWith(`_${child.pid}.ports`));
    if (name) {
      const ports = JSON.parse(await readFile(join(portsDir, name), "utf8")) as { nats: string[] };
      return Number(new URL(ports.nats[0]!).port);
    }
    await sleep(25);
  }
  throw new HoistError("TIMEOUT", `nats-server did not listen within ${START_BOUND_MS / 1000} s`);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}
