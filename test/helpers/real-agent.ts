import { createReadStream } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach } from "vitest";
import { runAgent, type RunningAgent } from "../../agent/main.ts";
import { silentLogger } from "../../shared/logger/index.ts";
import { createAgentClient, type AgentClient, type AgentClientOptions, type NodeInventory, type ServiceInventory } from "../../shared/proto/index.ts";
import { makeSampleNode, type SampleNode, type SampleNodeOptions } from "./sample-node.ts";
import { ensureSampleReleases, killSampleServer, readSamplePid, sampleTarballPath } from "./sample-service.ts";
import { makeTempDir } from "./temp-dir.ts";
import { waitFor } from "./wait-for.ts";

/** A real agent daemon (runAgent: HostFactsCache, NodeAgent with health monitors, gRPC) on a sample kv node. */
export interface RealAgent {
  node: SampleNode;
  running: RunningAgent;
  /** HOST:PORT of its gRPC server. */
  address: string;
  /** A gRPC client on it (closed after the test); plaintext unless `grpc` set TLS. */
  client: AgentClient;
  /** A fresh client for one look (closed after the test). */
  newClient(options?: AgentClientOptions): AgentClient;
  /** STATE_DIR/services/kv/journal.json */
  journalPath: string;
  /** A fresh GetInventory's kv entry (and the whole inventory). */
  kvInventory(): Promise<{ inventory: NodeInventory; kv: ServiceInventory }>;
  /** Waits until the agent recorded an operation that ends at `to` and the service is idle again. */
  waitSettled(to: string, options?: { timeoutMs?: number }): Promise<ServiceInventory>;
}

interface Cleanup {
  running: RunningAgent;
  clients: AgentClient[];
  runDir: string;
}

const cleanups: Cleanup[] = [];

/**
 * Stops every agent a test started, even when it failed: closes the clients, stops gRPC (operations in
 * flight are cancelled), waits until no operation runs (a rollback runs to its end and could start kv
 * again), stops the monitors, then kills the kv server by its pid file.
 */
afterEach(async () => {
  const pending = cleanups.splice(0);
  await Promise.all(
    pending.map(async ({ running, clients, runDir }) => {
      for (const client of clients) client.close();
      await running.stop().catch(() => undefined);
      await waitFor(async () => (await running.agent.inventory()).services.every((service) => service.activity === "idle" || service.activity === "stopped"), {
        what: "the agent's operations to end",
        timeoutMs: 30_000,
      }).catch(() => undefined);
      const pid = await readSamplePid(runDir);
      if (pid !== undefined) await killSampleServer(pid);
    }),
  );
});

export interface RealAgentOptions extends Omit<SampleNodeOptions, "extra"> {
  /** The `grpc:` section; default plaintext on 127.0.0.1:0. */
  grpc?: Record<string, unknown>;
  /** Client options of `client`; default { insecure: true }. */
  clientOptions?: AgentClientOptions;
  /** The `metrics:` section (e.g. `{ listen: "127.0.0.1:0" }`); default none. */
  metrics?: Record<string, unknown>;
}

/** Writes a sample node config with a gRPC section and runs the real agent daemon on it. */
export async function startRealAgent(options: RealAgentOptions = {}): Promise<RealAgent> {
  await ensureSampleReleases();
  const { grpc, clientOptions, metrics, ...nodeOptions } = options;
  const node = await makeSampleNode(await makeTempDir(), { ...nodeOptions, extra: { grpc: grpc ?? { listen: "127.0.0.1:0", insecure: true }, ...(metrics ? { metrics } : {}) } });
  const running = await runAgent(node.config, silentLogger());
  const cleanup: Cleanup = { running, clients: [], runDir: node.runDir };
  cleanups.push(cleanup);
  const address = running.grpcAddress!;
  const newClient = (overrides?: AgentClientOptions) => {
    const client = createAgentClient(address, overrides ?? clientOptions ?? { insecure: true });
    cleanup.clients.push(client);
    return client;
  };
  const client = newClient();
  const kvInventory = async () => {
    const fresh = newClient();
    try {
      const inventory = await fresh.getInventory({ deadlineMs: 5000 });
      return { inventory, kv: inventory.services.find((service) => service.name === "kv")! };
    } finally {
      fresh.close();
    }
  };
  return {
    node,
    running,
    address,
    client,
    newClient,
    journalPath: join(node.config.stateDir, "services", "kv", "journal.json"),
    kvInventory,
    async waitSettled(to, waitOptions = {}) {
      return waitFor(
        async () => {
          const { kv } = await kvInventory();
          return kv.lastUpgrade?.to === to && kv.activity === "idle" ? kv : undefined;
        },
        { what: `the operation to ${to} to end`, timeoutMs: waitOptions.timeoutMs ?? 30_000 },
      );
    },
  };
}

/** Whether a file exists. */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** An HTTP server for one sample tarball that sends the headers and a first chunk, then holds the rest until release(). */
export interface StalledArtifact {
  artifact: { url: string; sha256: string; size: number };
  /** Resolves once a download has begun (headers and first chunk sent). */
  started: Promise<void>;
  /** Sends the rest of every held download. */
  release(): void;
  close(): Promise<void>;
}

const artifactServers: StalledArtifact[] = [];
afterEach(async () => {
  await Promise.all(artifactServers.splice(0).map((server) => server.close()));
});

/** Serves the kv tarball of `version` over real HTTP, stalling every download until release(). */
export async function serveStalledArtifact(version: string): Promise<StalledArtifact> {
  const { artifacts } = await ensureSampleReleases();
  const built = artifacts.find((artifact) => artifact.version === version);
  if (!built) throw new Error(`no sample artifact ${version}`);
  const path = sampleTarballPath(version);
  const size = (await stat(path)).size;
  const bytes = await readFile(path);
  let released = false;
  const held: ServerResponse[] = [];
  let onStarted!: () => void;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const server = createServer((request, response) => {
    response.writeHead(200, { "content-length": String(size), "content-type": "application/octet-stream" });
    if (released) {
      createReadStream(path).pipe(response);
      return;
    }
    response.write(bytes.subarray(0, 1024));
    held.push(response);
    request.on("close", () => {
      const index = held.indexOf(response);
      if (index !== -1) held.splice(index, 1);
    });
    onStarted();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no address");
  const stalled: StalledArtifact = {
    artifact: { url: `http://127.0.0.1:${address.port}/kv-${version}.tar.gz`, sha256: built.sha256, size },
    started,
    release() {
      released = true;
      for (const response of held.splice(0)) response.end(bytes.subarray(1024));
    },
    close() {
      for (const response of held.splice(0)) response.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  artifactServers.push(stalled);
  return stalled;
}

/**
 * Returns `promise` marked as handled: for a call a test starts now and awaits later, so a test that
 * fails before that await reports its own assertion, not an unhandled rejection from the cleanup.
 */
export function inBackground<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
