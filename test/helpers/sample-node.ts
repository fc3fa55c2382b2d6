import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, afterEach } from "vitest";
import { loadAgentConfig, type AgentConfig } from "../../agent/config.ts";
import { NodeAgent } from "../../agent/node-agent.ts";
import { silentLogger } from "../../shared/logger/index.ts";
import { freePort, kvClient, readSamplePid, killSampleServer, sampleCatalogPath, sampleServiceConfig, type KvClient, type SampleServiceConfig } from "./sample-service.ts";

export interface SampleNode {
  root: string;
  port: number;
  node: string;
  configPath: string;
  config: AgentConfig;
  kv: KvClient;
  dataDir: string;
  installRoot: string;
  runDir: string;
  /** A NodeAgent on this config (start() already called). */
  openAgent(options?: { monitorHealth?: boolean }): Promise<NodeAgent>;
}

const started: string[] = [];
const startedForFile: string[] = [];

async function killServers(runDirs: string[]): Promise<void> {
  await Promise.all(
    runDirs.map(async (runDir) => {
      const pid = await readSamplePid(runDir);
      if (pid !== undefined) await killSampleServer(pid);
    }),
  );
}

/** Kills every sample server a test started (by pid file), even when the test failed. */
afterEach(async () => {
  await killServers(started.splice(0));
});

/** Nodes made in beforeAll (lifetime "file") live until the file's last test is done. */
afterAll(async () => {
  await killServers(startedForFile.splice(0));
});

export interface SampleNodeOptions {
  node?: string;
  cluster?: string;
  sharedDb?: string;
  extra?: Record<string, unknown>;
  minHealthyMs?: number;
  /** Edits the kv service entry before the config is written (hooks, probes, snapshots, backups). */
  editService?: (service: SampleServiceConfig) => void;
  /** "test" (default): its server is killed after each test; "file": after the file's last test (nodes made in beforeAll). */
  lifetime?: "test" | "file";
}

/** Writes an agent config for one node managing the sample service under `root`. */
export async function makeSampleNode(root: string, options: SampleNodeOptions = {}): Promise<SampleNode> {
  const port = await freePort();
  const node = options.node ?? "node-1";
  const service = sampleServiceConfig({ root, port, node, ...(options.sharedDb === undefined ? {} : { sharedDb: options.sharedDb }) });
  if (options.minHealthyMs !== undefined) service.health.minHealthyMs = options.minHealthyMs;
  options.editService?.(service);
  await mkdir(join(root, "run"), { recursive: true });
  const raw = {
    node,
    cluster: options.cluster ?? "test",
    stateDir: join(root, "state"),
    catalog: sampleCatalogPath(),
    services: [service],
    ...options.extra,
  };
  const configPath = join(root, "agent.yaml");
  await writeFile(configPath, stringify(raw));
  const config = await loadAgentConfig(configPath);
  const runDir = join(root, "run");
  (options.lifetime === "file" ? startedForFile : started).push(runDir);
  return {
    root,
    port,
    node,
    configPath,
    config,
    kv: kvClient(port),
    dataDir: join(root, "data"),
    installRoot: join(root, "install"),
    runDir,
    async openAgent(agentOptions = {}) {
      const agent = new NodeAgent(config, { logger: silentLogger(), monitorHealth: agentOptions.monitorHealth ?? false });
      await agent.start();
      return agent;
    },
  };
}
