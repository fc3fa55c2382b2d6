import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./wait-for.ts";

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** SIGKILLs the server (keeps the store, so `restart()` gets JetStream state back). */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Stops it and removes its temp dirs. */
  stop(): Promise<void>;
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

/** Starts a real nats-server with JetStream on a free port and a temp store. */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const base = await mkdtemp(join(tmpdir(), "hoist-nats-"));
  const storeDir = join(base, "store");
  const portsDir = join(base, "ports");
  let child = await launch(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", storeDir, "--ports_file_dir", portsDir]);
  const port = await readPort(portsDir);
  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get process() {
      return child;
    },
    async kill() {
      await killChild(child, "SIGKILL");
    },
    async restart() {
      child = await launch(["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir]);
      await waitForPort(port);
    },
    async stop() {
      await killChild(child, "SIGTERM");
      await rm(base, { recursive: true, force: true });
    },
  };
  return handle;
}

async function launch(args: string[]): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.resume();
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", reject);
  });
  return child;
}

async function readPort(portsDir: string): Promise<number> {
  const file = await waitFor(async () => (await readdir(portsDir).catch(() => [])).find((name) => name.endsWith(".ports")), {
    what: "nats-server ports file",
  });
  const ports = JSON.parse(await readFile(join(portsDir, file), "utf8")) as { nats: string[] };
  const port = Number(new URL(ports.nats[0]!).port);
  await waitForPort(port);
  return port;
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import("node:net");
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
    { what: `nats-server on port ${port}` },
  );
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}
