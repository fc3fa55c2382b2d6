import { freePort } from "../lib/free-port.ts";
import { mkdir, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import { openBuckets } from "../../shared/bus/index.ts";
import { startLocalNatsServer, type LocalNatsServer } from "../../shared/nats-server/index.ts";
import { readInventories } from "../../shared/inventory/index.ts";
import { isInRotation, readServerStats, requireHaproxyBinary, startHaproxy, type RunningHaproxy } from "./haproxy.ts";
import { DemoProcesses, type TrackedProcess } from "./processes.ts";
import { HAPROXY_HOOK, HOIST_BIN, renderExample } from "./templates.ts";

/**
 * The demo's fleet on one machine, every part real: a local nats-server with JetStream, one
 * `hoist agent run` process per node (each managing one kv instance installed with `hoist upgrade`),
 * and HAProxy in front of the kv instances. Configs come from examples/demo, filled in here.
 */

/** The cluster id in examples/demo/agent-*.yaml. */
export const DEMO_CLUSTER = "demo";
/** The HAProxy backend in examples/demo/haproxy.cfg. */
export const DEMO_BACKEND = "kv";
/** The managed service. */
export const DEMO_SERVICE = "kv";
/** Node names, as in examples/demo (agent-NAME.yaml, `server NAME` in haproxy.cfg). */
export const DEMO_NODES = ["n1", "n2", "n3"] as const;

export interface DemoNode {
  name: string;
  /** kv listens on 127.0.0.1:port. */
  port: number;
  dir: string;
  configFile: string;
  agent?: TrackedProcess;
}

export interface HoistRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface DemoFleet {
  workDir: string;
  cluster: string;
  catalog: string;
  natsUrl: string;
  /** http://127.0.0.1:PORT of HAProxy's frontend. */
  haproxyUrl: string;
  haproxySocket: string;
  haproxyConfig: string;
  nodes: DemoNode[];
  /** Runs `hoist ARGS --nats URL`, streaming its lines to `onLine`. */
  hoist(args: string[], options?: { onLine?: (line: string) => void }): Promise<HoistRun>;
  /** `hoist inventory --cluster demo` (the fleet table). */
  inventoryTable(): Promise<string>;
  /** What each node's kv answers on GET /version, asked directly (not through HAProxy). */
  versions(): Promise<Record<string, string>>;
  /** Stops everything it started (agents, kv instances, HAProxy, nats-server); removes workDir unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

export interface StartFleetOptions {
  /** An empty dir for everything the fleet writes (configs, releases, data, NATS store, socket). */
  workDir: string;
  catalog: string;
  /** Installed on every node first (fresh install with `hoist upgrade`). */
  installVersion: string;
  /** Where agent-n1.yaml .. agent-n3.yaml and haproxy.cfg are read from; default examples/demo. */
  configDir?: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, signal: AbortSignal.timeout(3000) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function waitUntil<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new HoistError("TIMEOUT", `${what} did not happen within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ""}`);
    await sleep(100, undefined, signal ? { signal } : undefined);
  }
}

function isKvServer(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return Promise.resolve(false);
  }
  return readFile(`/proc/${pid}/stat`, "utf8")
    .then(async (stat) => !/\) Z /.test(stat) && (await readFile(`/proc/${pid}/cmdline`, "utf8")).includes("server.mjs"))
    .catch(() => false);
}

/** Stops the kv instance of a node by its pid file (kv runs in its own session, not as our child). */
async function stopKv(node: DemoNode): Promise<void> {
  const pid = Number((await readFile(join(node.dir, "run", "kv.pid"), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !(await isKvServer(pid))) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 50 && (await isKvServer(pid)); waited++) await sleep(100);
  if (await isKvServer(pid)) process.kill(pid, "SIGKILL");
}

/**
 * Starts the fleet: ports, configs from examples/demo, nats-server, 1.0.0 (or `installVersion`)
 * installed on each node, the agents, HAProxy; resolves once every agent published a SERVING
 * inventory and HAProxy has every server UP. On failure everything started so far is stopped.
 */
export async function startFleet(options: StartFleetOptions): Promise<DemoFleet> {
  const { workDir, log, signal } = options;
  const haproxyBinary = requireHaproxyBinary();
  const processes = new DemoProcesses();
  const nodes: DemoNode[] = [];
  let nats: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let haproxy: RunningHaproxy | undefined;

  const stopAll = async () => {
    await Promise.all(nodes.flatMap((node) => (node.agent ? [processes.stop(node.agent)] : [])));
    await processes.stopAll();
    await Promise.all(nodes.map(stopKv));
    await haproxy?.stop();
    await nc?.close().catch(() => undefined);
    await nats?.stop();
  };

  const hoist = async (args: string[], hoistOptions: { onLine?: (line: string) => void; nats?: boolean } = {}): Promise<HoistRun> => {
    const withNats = hoistOptions.nats === false ? args : [...args, "--nats", nats!.url];
    const run = processes.spawn(`hoist ${args[0]}`, process.execPath, [HOIST_BIN, ...withNats], { ...(hoistOptions.onLine ? { onLine: hoistOptions.onLine } : {}) });
    const onAbort = () => void processes.stop(run, { signal: "SIGINT" });
    signal?.addEventListener("abort", onAbort, { once: true });
    const { code } = await run.exited;
    signal?.removeEventListener("abort", onAbort);
    return { code, stdout: run.stdout(), stderr: run.stderr() };
  };

  try {
    await mkdir(workDir, { recursive: true });
    const haproxyDir = join(workDir, "haproxy");
    await mkdir(haproxyDir, { recursive: true });
    const haproxySocket = join(haproxyDir, "admin.sock");
    const haproxyPort = await freePort();
    const sharedDb = join(workDir, "shared-db.log");

    log(`starting nats-server (JetStream, store in ${join(workDir, "nats")})`);
    nats = await startLocalNatsServer({ storeDir: join(workDir, "nats") });
    log(`  nats-server on ${nats.url}`);

    const values: Record<string, string | number> = { HAPROXY_SOCKET: haproxySocket, HAPROXY_PORT: haproxyPort, NATS_URL: nats.url, CATALOG: options.catalog, HOOK: HAPROXY_HOOK, SHARED_DB: sharedDb };
    for (const name of DEMO_NODES) {
      const dir = join(workDir, name);
      await mkdir(join(dir, "run"), { recursive: true });
      const port = await freePort();
      values[`KV_PORT_${name.toUpperCase()}`] = port;
      const configFile = await renderExample(`agent-${name}.yaml`, join(dir, "agent.yaml"), { ...values, NODE_DIR: dir, KV_PORT: port }, options.configDir);
      nodes.push({ name, port, dir, configFile });
    }
    const haproxyConfig = await renderExample("haproxy.cfg", join(haproxyDir, "haproxy.cfg"), values, options.configDir);

    log(`installing kv ${options.installVersion} on ${nodes.map((node) => node.name).join(", ")} (hoist upgrade, fresh install)`);
    await Promise.all(
      nodes.map(async (node) => {
        const install = await hoist(["upgrade", "-c", node.configFile, "--to", options.installVersion], { nats: false });
        signal?.throwIfAborted();
        if (install.code !== 0) throw new HoistError("INTERNAL", `hoist upgrade of ${node.name} to ${options.installVersion} failed (exit ${install.code}):\n${install.stderr.trim() || install.stdout.trim()}`);
        log(`  ${node.name}: kv ${options.installVersion} on 127.0.0.1:${node.port}`);
      }),
    );

    log("starting the agents (hoist agent run, one process per node)");
    for (const node of nodes) {
      node.agent = processes.spawn(`agent ${node.name}`, process.execPath, [HOIST_BIN, "agent", "run", "-c", node.configFile, "--log-level", "warn"]);
    }
    nc = await connect({ servers: nats.url, name: "hoist demo" });
    const buckets = await openBuckets(nc);
    await waitUntil("every agent publishing a SERVING inventory", 60_000, signal, async () => {
      for (const node of nodes) {
        if (node.agent!.child.exitCode !== null) throw new HoistError("UNAVAILABLE", `the agent of ${node.name} exited with code ${node.agent!.child.exitCode}:\n${node.agent!.stderr().trim()}`);
      }
      const inventories = await readInventories(buckets.inventory, DEMO_CLUSTER);
      const ready = nodes.every((node) => {
        const service = inventories[node.name]?.inventory.services.find((entry) => entry.name === DEMO_SERVICE);
        return service?.health === "SERVING" && service.activity === "idle";
      });
      return ready ? true : undefined;
    });
    log("  every agent is up and reports kv SERVING");

    log(`starting HAProxy (${haproxyBinary}) on 127.0.0.1:${haproxyPort}, admin socket ${haproxySocket}`);
    haproxy = await startHaproxy({ configFile: haproxyConfig, socket: haproxySocket, binary: haproxyBinary, ...(signal ? { signal } : {}) });
    await waitUntil("HAProxy having every kv server UP", 20_000, signal, async () => {
      const stats = await readServerStats(haproxySocket, DEMO_BACKEND);
      return stats.length === nodes.length && stats.every((stat) => isInRotation(stat.status)) ? true : undefined;
    });
    log("  every kv server is UP in HAProxy");

    return {
      workDir,
      cluster: DEMO_CLUSTER,
      catalog: options.catalog,
      natsUrl: nats.url,
      haproxyUrl: `http://127.0.0.1:${haproxyPort}`,
      haproxySocket,
      haproxyConfig,
      nodes,
      hoist: (args, hoistOptions) => hoist(args, hoistOptions),
      async inventoryTable() {
        const run = await hoist(["inventory", "--cluster", DEMO_CLUSTER]);
        if (run.code !== 0) throw new HoistError("INTERNAL", `hoist inventory failed (exit ${run.code}): ${run.stderr.trim()}`);
        return run.stdout.trimEnd();
      },
      async versions() {
        const entries = await Promise.all(
          nodes.map(async (node) => {
            const answer = await getText(node.port, "/version").catch(() => undefined);
            const version = answer?.status === 200 ? (JSON.parse(answer.body) as { version: string }).version : "not answering";
            return [node.name, version] as const;
          }),
        );
        return Object.fromEntries(entries);
      },
      async stop(stopOptions = {}) {
        await stopAll();
        if (!stopOptions.keep) await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export { freePort };
