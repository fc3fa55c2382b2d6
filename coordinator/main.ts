import { join } from "node:path";
import type { Logger } from "../shared/logger/index.ts";
import { startLocalNatsServer, type LocalNatsServer } from "../shared/nats-server/index.ts";
import type { AgentClientOptions } from "../shared/proto/index.ts";
import { openBus, type Bus } from "./cli/bus-options.ts";
import { coordinatorIdentity, makeRunner } from "./rollout/make-runner.ts";
import { ClusterLease } from "./rollout/lease.ts";
import { RolloutStore } from "./rollout/store.ts";
import { isTerminal, type RolloutState } from "./rollout/state.ts";

export interface CoordinatorOptions {
  /** NATS URLs; none: start a local nats-server with JetStream in stateDir (the embedded default). */
  natsUrls?: string[];
  natsToken?: string;
  /** Replicas of the control plane's stream and buckets ("1", "3" or "5"); default by the NATS cluster's size. */
  natsReplicas?: string;
  stateDir: string;
  /** Port of the embedded nats-server (0: any free one). */
  embeddedPort: number;
  agentGrpc: AgentClientOptions;
  scanMs?: number;
}

export interface RunningCoordinator {
  natsUrl: string;
  owner: string;
  stop(): Promise<void>;
}

/**
 * The coordinator daemon: finds rollouts that are not finished and whose cluster lease is free (a
 * new rollout, or one whose coordinator died), takes the lease and drives them. Only wiring here.
 */
export async function runCoordinator(options: CoordinatorOptions, logger: Logger): Promise<RunningCoordinator> {
  let embedded: LocalNatsServer | undefined;
  let natsUrl = options.natsUrls?.join(",");
  if (!natsUrl) {
    embedded = await startLocalNatsServer({ storeDir: join(options.stateDir, "nats"), port: options.embeddedPort });
    natsUrl = embedded.url;
    logger.info({ url: natsUrl }, "started the embedded nats-server (JetStream)");
  }
  const bus: Bus = await openBus({ nats: natsUrl, ...(options.natsToken ? { natsToken: options.natsToken } : {}), ...(options.natsReplicas ? { natsReplicas: options.natsReplicas } : {}) }, "hoist coordinator", { reconnectForever: true });
  const owner = coordinatorIdentity();
  const store = new RolloutStore<RolloutState>(bus.buckets.rollouts);
  const driving = new Map<string, Promise<void>>();
  const stopping = new AbortController();

  const scan = async () => {
    for (const { value } of await store.list()) {
      if (isTerminal(value.phase) || driving.has(value.cluster)) continue;
      if (await new ClusterLease(bus.buckets.rollouts, value.cluster, owner).holder()) continue;
      const log = logger.child({ cluster: value.cluster, rollout: value.id });
      const runner = makeRunner(bus, value.cluster, owner, log, options.agentGrpc);
      log.info("driving rollout");
      const drive = runner
        .drive(value.cluster, value.id, stopping.signal)
        .then((final) => log.info({ phase: final.phase }, "rollout ended"))
        .catch((err) => log.warn({ err }, "stopped driving rollout"))
        .finally(() => driving.delete(value.cluster));
      driving.set(value.cluster, drive);
    }
  };
  const timer = setInterval(() => void scan().catch((err) => logger.warn({ err }, "scan failed")), options.scanMs ?? 1000);
  await scan();
  logger.info({ owner, nats: natsUrl }, "coordinator running");

  return {
    natsUrl,
    owner,
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await Promise.allSettled([...driving.values()]);
      await bus.close();
      await embedded?.stop();
    },
  };
}
