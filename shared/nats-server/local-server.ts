import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { connect as connectTcp } from "node:net";
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
 * the tests): free port unless one is given, store in `storeDir`, resolves once it accepts connections.
 */
export async function startLocalNatsServer(options: LocalNatsOptions): Promise<LocalNatsServer> {
  const binary = findNatsServerBinary(options.binary);
  const host = options.host ?? "127.0.0.1";
  const portsDir = join(options.storeDir, "ports");
  await mkdir(options.storeDir, { recursive: true });
  await rm(portsDir, { recursive: true, force: true });
  await mkdir(portsDir, { recursive: true });
  const baseArgs = ["-a", host, "-js", "-sd", join(options.storeDir, "jetstream")];
  let child = await launch(binary, [...baseArgs, "-p", String(options.port || -1), "--ports_file_dir", portsDir]);
  const port = options.port || (await readPortsFile(portsDir, child));
  await waitForPort(host, port, child);
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
      await waitForPort(host, port, child);
    },
    async stop() {
      await stopChild(child, "SIGTERM");
    },
  };
}

async function launch(binary: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.resume();
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new HoistError("UNAVAILABLE", `cannot start ${binary}: ${err.message}`, { cause: err })));
  });
  return child;
}

async function readPortsFile(portsDir: string, child: ChildProcess): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new HoistError("UNAVAILABLE", `nats-server exited with code ${child.exitCode} at start`);
    const name = (await readdir(portsDir).catch(() => [] as string[])).find((file) => file.endsWith(".ports"));
    if (name) {
      const ports = JSON.parse(await readFile(join(portsDir, name), "utf8")) as { nats: string[] };
      return Number(new URL(ports.nats[0]!).port);
    }
    await sleep(25);
  }
  throw new HoistError("TIMEOUT", "nats-server did not write its ports file within 5 s");
}

async function waitForPort(host: string, port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (child.exitCode !== null) throw new HoistError("UNAVAILABLE", `nats-server exited with code ${child.exitCode} (is port ${port} taken?)`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connectTcp(port, host, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new HoistError("TIMEOUT", `nats-server did not accept connections on ${host}:${port} within 10 s`);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}
