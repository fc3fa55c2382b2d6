import type { NatsConnection } from "nats";
import type { Logger } from "../../shared/logger/index.ts";
import { defaultReplicas } from "../../shared/bus/index.ts";
import { KV_CATALOG, loadKey, OBJECT_ARTIFACTS, openUnattendedBucket, UnattendedStore } from "../../shared/unattended/index.ts";
import type { AgentConfig } from "../config.ts";
import type { NodeAgent } from "../node-agent.ts";
import { servicePaths } from "../services/service-paths.ts";
import { ObjectArtifactFetcher } from "./object-artifacts.ts";
import { UnattendedLoop } from "./unattended-loop.ts";

/** Opens what the unattended loop needs (bucket, catalog KV, artifact object store, public keys) and starts it; undefined when disabled. */
export async function startUnattendedLoop(config: AgentConfig, agent: NodeAgent, nc: NatsConnection, logger: Logger): Promise<UnattendedLoop | undefined> {
  const settings = config.unattended;
  if (!settings?.enabled) return undefined;
  const replicas = defaultReplicas(nc);
  const js = nc.jetstream();
  const [kv, catalogKv, artifacts, publicKeys] = await Promise.all([
    openUnattendedBucket(nc, replicas),
    js.views.kv(KV_CATALOG, { history: 5, replicas }),
    js.views.os(OBJECT_ARTIFACTS, { replicas }),
    Promise.all(settings.publicKeys.map((path) => loadKey(path, "public"))),
  ]);
  const services = settings.services ?? config.services.map((service) => service.name);
  const cacheDir = servicePaths(config, config.services[0]!).artifacts;
  const fetcher = new ObjectArtifactFetcher({ store: artifacts, nc, bucket: OBJECT_ARTIFACTS, cacheDir });
  const loop = new UnattendedLoop({
    agent,
    nc,
    store: new UnattendedStore(kv, nc, logger),
    catalogKv,
    artifacts,
    fetchObject: (url, signal) => fetcher.fetch(url, signal),
    logger: logger.child({ part: "unattended" }),
    cluster: config.cluster,
    node: config.node,
    labels: config.labels,
    services,
    pollIntervalMs: settings.pollIntervalMs,
    heartbeatMs: settings.heartbeatMs,
    publicKeys,
    backoffMs: settings.backoffMs,
    maxBackoffMs: settings.maxBackoffMs,
  });
  loop.start();
  return loop;
}
