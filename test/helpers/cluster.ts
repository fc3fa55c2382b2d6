import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { parse, stringify } from "yaml";
import { connect, type NatsConnection } from "nats";
import { makeSampleNode, type SampleNode } from "./sample-node.ts";
import { startNatsServer, type NatsServerHandle } from "./nats-server.ts";
import { HOIST_BIN, runHoist, type CliResult } from "./hoist-cli.ts";
import { freePort, sampleCatalogPath, type SampleServiceConfig } from "./sample-service.ts";
import { waitFor } from "./wait-for.ts";
import { openBuckets, type HoistBuckets } from "../../shared/bus/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { RolloutStore } from "../../coordinator/rollout/store.ts";
import type { RolloutState } from "../../coordinator/rollout/state.ts";

export interface ClusterNode extends SampleNode {
  agent?: ChildProcess;
  log: string[];
  startAgent(): Promise<void>;
  killAgent(signal?: NodeJS.Signals): Promise<void>;
  /** The kv server's own log (run/kv.log): one `starting kv VERSION` line per start. */
  serviceLog(): Promise<string>;
  /** How many times kv VERSION was started on this node (from its log). */
  starts(version: string): Promise<number>;
  /** Files in STATE_DIR/services/kv/results: one per idempotency key the agent recorded an outcome under. */
  recordedKeys(): Promise<string[]>;
  /** HOST:PORT of the agent's Prometheus listener (with `agentMetrics`). */
  metricsAddress?: string;
}

/** A `hoist` command running in the background (a coordinator, a foreground rollout). */
export interface BackgroundHoist {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves when it exited. */
  exited: Promise<CliResult>;
  kill(signal?: NodeJS.Signals): Promise<CliResult>;
}

export interface TestCluster {
  cluster: string;
  nats: NatsServerHandle;
  nc: NatsConnection;
  buckets: HoistBuckets;
  nodes: ClusterNode[];
  sharedDb: string;
  /** The catalog the agents use (and rollouts should get with --catalog). */
  catalog: string;
  /** Runs `hoist ARGS --nats URL` (operator commands); SIGKILLed after `timeoutMs` (default 120 s) or by stop(). */
  hoist(args: string[], options?: { timeoutMs?: number }): Promise<CliResult>;
  /** Starts `hoist ARGS --nats URL` in the background; killed (SIGKILL) by stop() if still running. */
  spawnHoist(args: string[]): BackgroundHoist;
  /** `rollout start` arguments for this cluster: catalog, service kv, target, small deadlines, plus `extra`. */
  rolloutArgs(to: string, extra?: string[]): string[];
  /** The cluster's newest rollout record, read from KV (undefined before the first one). */
  rollout(): Promise<RolloutState | undefined>;
  /** Waits until the newest rollout satisfies `test`; returns it. */
  waitRollout(test: (state: RolloutState) => boolean, options?: { timeoutMs?: number; what?: string }): Promise<RolloutState>;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  nodes: number;
  version: string;
  /** Per-node versions (index 0 is n1), overriding `version` where given: for clusters that drifted. */
  versions?: readonly (string | undefined)[];
  cluster?: string;
  /** Catalog for the agents (default: the sample catalog). */
  catalog?: string;
  /** "file" for a cluster made in beforeAll and shared by the file's tests (default "test"). */
  lifetime?: "test" | "file";
  /** More agent config for node INDEX (0 is n1): labels, an unattended section. */
  agentExtra?: (index: number) => Record<string, unknown>;
  /** Agents without `catalog:` in their config: every release comes from the coordinator's catalog. */
  agentsWithoutCatalog?: boolean;
  /**
   * NATS started by the test (a multi-server cluster, say) instead of one nats-server of our own:
   * agents, the test's connection and `hoist` commands get every URL of `urls`. stop() stops it.
   */
  nats?: { url: string; urls: string[]; stop(): Promise<void> };
  /** Agents serve Prometheus metrics (`metrics.listen` on a free loopback port; see ClusterNode.metricsAddress). */
  agentMetrics?: boolean;
  /** Edits each node's kv service entry before its config is written (databases, env). */
  editService?: (service: SampleServiceConfig, node: string) => void;
}

async function exitOf(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function spawnBackground(args: string[]): BackgroundHoist {
  const child = spawn(process.execPath, [HOIST_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve) => child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    child,
    output: () => `${stdout}\n${stderr}`,
    exited,
    async kill(signal = "SIGKILL") {
      await exitOf(child, signal, 10_000);
      return exited;
    },
  };
}

function countLines(text: string, line: string): number {
  return text.split("\n").filter((candidate) => candidate.trim() === line).length;
}

/**
 * A real cluster on one machine: a nats-server, N agents as separate `hoist agent run` processes
 * (gRPC on loopback, NATS control plane), each managing one sample-service node installed at
 * `version`, all sharing one "database" file for cluster-once migrations. On any failure while
 * starting, everything started so far is stopped again.
 */
export async function startCluster(root: string, options: StartClusterOptions): Promise<TestCluster> {
  const nats = options.nats ? (options.nats as unknown as NatsServerHandle) : await startNatsServer();
  const natsUrls = options.nats?.urls ?? [nats.url];
  const cluster = options.cluster ?? `c${Math.random().toString(16).slice(2, 8)}`;
  const catalog = options.catalog ?? sampleCatalogPath();
  const sharedDb = join(root, "shared-db.log");
  const nodes: ClusterNode[] = [];
  const background: BackgroundHoist[] = [];
  let nc: NatsConnection | undefined;

  const stop = async () => {
    await Promise.allSettled(background.map((run) => run.kill("SIGKILL")));
    await Promise.allSettled(nodes.map((node) => node.killAgent("SIGTERM")));
    await nc?.close().catch(() => undefined);
    await nats.stop();
  };

  try {
    for (let index = 1; index <= options.nodes; index++) {
      const dir = join(root, `n${index}`);
      await mkdir(dir, { recursive: true });
      const metricsAddress = options.agentMetrics ? `127.0.0.1:${await freePort()}` : undefined;
      const sample = await makeSampleNode(dir, {
        node: `n${index}`,
        cluster,
        sharedDb,
        minHealthyMs: 300,
        lifetime: options.lifetime ?? "test",
        ...(options.editService ? { editService: (service: SampleServiceConfig) => options.editService!(service, `n${index}`) } : {}),
        extra: {
          catalog: options.agentsWithoutCatalog ? undefined : catalog,
          grpc: { listen: "127.0.0.1:0", insecure: true },
          nats: { servers: natsUrls },
          ...(metricsAddress ? { metrics: { listen: metricsAddress } } : {}),
          ...options.agentExtra?.(index - 1),
        },
      });
      const resultsDir = join(sample.config.stateDir, "services", "kv", "results");
      const node: ClusterNode = Object.assign(sample, {
        log: [] as string[],
        ...(metricsAddress ? { metricsAddress } : {}),
        async startAgent() {
          const child = spawn(process.execPath, [HOIST_BIN, "agent", "run", "-c", sample.configPath, "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
          child.stdout.on("data", (chunk) => node.log.push(String(chunk)));
          child.stderr.on("data", (chunk) => node.log.push(String(chunk)));
          node.agent = child;
        },
        async killAgent(signal: NodeJS.Signals = "SIGKILL") {
          if (node.agent) await exitOf(node.agent, signal, 10_000);
        },
        serviceLog: () => readFile(join(sample.runDir, "kv.log"), "utf8").catch(() => ""),
        async starts(version: string) {
          return countLines(await node.serviceLog(), `starting kv ${version}`);
        },
        async recordedKeys() {
          return (await readdir(resultsDir).catch(() => [] as string[])).filter((name) => name.endsWith(".json")).sort();
        },
      });
      nodes.push(node);
    }
    const installs = await Promise.allSettled(
      nodes.map(async (node, index) => {
        const version = options.versions?.[index] ?? options.version;
        const install = await runHoist(["upgrade", "-c", node.configPath, "--to", version, "--catalog", catalog]);
        if (install.code !== 0) throw new Error(`install of ${version} on ${node.node} failed: ${install.stderr}`);
      }),
    );
    const failed = installs.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(nodes.map((node) => node.startAgent()));
    // The test's own connection reconnects forever, and quickly: nats.js's default (10 attempts, 2 s
    // apart) gives up during a fault test's outage, and every later read of the test then times out.
    nc = await connect({ servers: natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const buckets = await openBuckets(nc);
    await waitFor(async () => Object.keys(await readInventories(buckets.inventory, cluster)).length === nodes.length, {
      timeoutMs: 30_000,
      what: "every agent's inventory in KV",
    });
    const spawnHoist = (args: string[]): BackgroundHoist => {
      const run = spawnBackground([...args, "--nats", natsUrls.join(",")]);
      background.push(run);
      return run;
    };
    const store = new RolloutStore(buckets.rollouts);
    const rollout = async () =>
      (await store.list(cluster))
        .map((entry) => entry.value)
        .sort((a, b) => a.createdAt - b.createdAt)
        .at(-1);
    return {
      cluster,
      nats,
      nc,
      buckets,
      nodes,
      sharedDb,
      catalog,
      async hoist(args, hoistOptions = {}) {
        const run = spawnHoist(args);
        const timer = setTimeout(() => void run.kill("SIGKILL"), hoistOptions.timeoutMs ?? 120_000);
        try {
          return await run.exited;
        } finally {
          clearTimeout(timer);
        }
      },
      spawnHoist,
      rolloutArgs(to, extra = []) {
        return [
          "rollout",
          "start",
          "--catalog",
          catalog,
          "--cluster",
          cluster,
          "--service",
          "kv",
          "--to",
          to,
          "--agent-insecure",
          "--min-healthy-ms",
          "300",
          "--healthy-deadline-ms",
          "20000",
          "--progress-deadline-ms",
          "60000",
          ...extra,
        ];
      },
      rollout,
      async waitRollout(test, waitOptions = {}) {
        return waitFor(
          async () => {
            const state = await rollout();
            return state && test(state) ? state : undefined;
          },
          { timeoutMs: waitOptions.timeoutMs ?? 60_000, intervalMs: 50, what: waitOptions.what ?? "the rollout" },
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Writes a file and returns its path (for catalogs and configs tests make). */
export async function writeYaml(path: string, value: unknown): Promise<string> {
  await writeFile(path, stringify(value));
  return path;
}

/**
 * A copy of the sample catalog at `path` (artifact paths made absolute) after `edit` changed it:
 * for releases with a node-specific fault, different migrations and the like.
 */
export async function writeCatalogVariant(path: string, edit: (catalog: { services: { kv: { releases: Record<string, unknown>[] } } }) => void): Promise<string> {
  const source = sampleCatalogPath();
  const catalog = parse(await readFile(source, "utf8"));
  for (const release of catalog.services.kv.releases) {
    const url = release.artifact.url as string;
    if (!isAbsolute(url) && !/^https?:/.test(url)) release.artifact.url = join(dirname(source), url);
  }
  edit(catalog);
  return writeYaml(path, catalog);
}
