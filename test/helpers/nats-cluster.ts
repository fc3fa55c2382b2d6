import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "nats";
import { findNatsServerBinary } from "../../shared/nats-server/index.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { waitFor } from "./wait-for.ts";

export interface ClusterServer {
  name: string;
  url: string;
  process: ChildProcess;
  kill(): Promise<void>;
}

/** A real NATS cluster of `size` nats-servers with JetStream: routes on free ports, one store dir each. */
export interface NatsClusterHandle {
  /** The first server's URL (what a NatsServerHandle has); clients learn the others from it. */
  url: string;
  /** Every server's client URL. */
  urls: string[];
  port: number;
  storeDir: string;
  servers: ClusterServer[];
  /** SIGKILLs the server named `name` (as JetStream names it in stream info `cluster.leader`). */
  killServer(name: string): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/** Starts the cluster and resolves once JetStream has a meta leader (an R`size` stream can be made). */
export async function startNatsCluster(size = 3): Promise<NatsClusterHandle> {
  const storeDir = await mkdtemp(join(tmpdir(), "hoist-nats-cluster-"));
  const binary = findNatsServerBinary();
  const clusterName = `hc${Math.random().toString(16).slice(2, 8)}`;
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let index = 0; index < size; index++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((port) => `nats-route://127.0.0.1:${port}`).join(",");
  const servers: ClusterServer[] = clientPorts.map((port, index) => {
    const name = `${clusterName}-s${index + 1}`;
    const child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-n", name, "-js", "-sd", join(storeDir, name), "--cluster_name", clusterName, "--cluster", `nats://127.0.0.1:${routePorts[index]}`, "--routes", routes], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.resume();
    return { name, url: `nats://127.0.0.1:${port}`, process: child, kill: () => stopChild(child, "SIGKILL") };
  });
  const stop = async () => {
    await Promise.all(servers.map((server) => stopChild(server.process, "SIGTERM")));
    await rm(storeDir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await Promise.all(clientPorts.map(portOpen))).every(Boolean), { timeoutMs: 20_000, what: "every nats-server of the cluster listening" });
    const nc = await connect({ servers: servers.map((server) => server.url) });
    try {
      await waitFor(
        async () => {
          const jsm = await nc.jetstreamManager();
          await jsm.streams.add({ name: "READY", subjects: ["ready.>"], num_replicas: size });
          await jsm.streams.delete("READY");
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: `a JetStream meta leader in the ${size}-server cluster` },
      );
    } finally {
      await nc.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: servers[0]!.url,
    urls: servers.map((server) => server.url),
    port: clientPorts[0]!,
    storeDir,
    servers,
    async killServer(name) {
      const server = servers.find((candidate) => candidate.name === name);
      if (!server) throw new Error(`no server ${name} in the cluster (has ${servers.map((candidate) => candidate.name).join(", ")})`);
      await server.kill();
    },
    async kill() {
      throw new Error("kill the cluster's servers one by one with killServer()");
    },
    async restart() {
      throw new Error("restarting a cluster server is not supported by this helper");
    },
    stop,
  };
}
