import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { connect, type NatsConnection } from "nats";
import { makeSampleNode, type SampleNode } from "./sample-node.ts";
import { startNatsServer, type NatsServerHandle } from "./nats-server.ts";
import { HOIST_BIN, runHoist } from "./hoist-cli.ts";
import { waitFor } from "./wait-for.ts";
import { openBuckets } from "../../shared/bus/index.ts";
import { readInventories } from "../../coordinator/inventory/read-inventory.ts";

export interface ClusterNode extends SampleNode {
  agent?: ChildProcess;
  log: string[];
  startAgent(): Promise<void>;
  killAgent(signal?: NodeJS.Signals): Promise<void>;
}

export interface TestCluster {
  cluster: string;
  nats: NatsServerHandle;
  nc: NatsConnection;
  nodes: ClusterNode[];
  sharedDb: string;
  /** Runs `hoist ARGS --nats URL` (operator commands). */
  hoist(args: string[], options?: { timeoutMs?: number }): ReturnType<typeof runHoist>;
  stop(): Promise<void>;
}

/**
 * A real cluster on one machine: a nats-server, N agents as separate `hoist agent run` processes
 * (gRPC on loopback, NATS control plane), each managing one sample-service node installed at
 * `version`, all sharing one "database" file for cluster-once migrations.
 */
export async function startCluster(root: string, options: { nodes: number; version: string; cluster?: string }): Promise<TestCluster> {
  const nats = await startNatsServer();
  const cluster = options.cluster ?? `c${Math.random().toString(16).slice(2, 8)}`;
  const sharedDb = join(root, "shared-db.log");
  const nodes: ClusterNode[] = [];
  for (let index = 1; index <= options.nodes; index++) {
    const dir = join(root, `n${index}`);
    await mkdir(dir, { recursive: true });
    const sample = await makeSampleNode(dir, {
      node: `n${index}`,
      cluster,
      sharedDb,
      minHealthyMs: 300,
      extra: { grpc: { listen: "127.0.0.1:0", insecure: true }, nats: { servers: [nats.url] } },
    });
    const install = await runHoist(["upgrade", "-c", sample.configPath, "--to", options.version]);
    if (install.code !== 0) throw new Error(`install of ${options.version} on n${index} failed: ${install.stderr}`);
    const node: ClusterNode = Object.assign(sample, {
      log: [] as string[],
      async startAgent() {
        const child = spawn(process.execPath, [HOIST_BIN, "agent", "run", "-c", sample.configPath, "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
        child.stdout!.on("data", (chunk) => node.log.push(String(chunk)));
        child.stderr!.on("data", (chunk) => node.log.push(String(chunk)));
        node.agent = child;
      },
      async killAgent(signal: NodeJS.Signals = "SIGKILL") {
        const child = node.agent;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill(signal);
        await exited;
      },
    });
    nodes.push(node);
  }
  await Promise.all(nodes.map((node) => node.startAgent()));
  const nc = await connect({ servers: nats.url });
  const buckets = await openBuckets(nc);
  await waitFor(async () => Object.keys(await readInventories(buckets.inventory, cluster)).length === nodes.length, {
    timeoutMs: 30_000,
    what: "every agent's inventory in KV",
  });
  return {
    cluster,
    nats,
    nc,
    nodes,
    sharedDb,
    hoist: (args, hoistOptions) => runHoist([...args, "--nats", nats.url], hoistOptions),
    async stop() {
      await Promise.all(nodes.map((node) => node.killAgent("SIGTERM")));
      await nc.close();
      await nats.stop();
    },
  };
}

/** Writes a file and returns its path (for catalogs and configs tests make). */
export async function writeYaml(path: string, value: unknown): Promise<string> {
  await writeFile(path, stringify(value));
  return path;
}
