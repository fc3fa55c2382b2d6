import { join } from "node:path";
import { HoistError } from "../shared/errors/index.ts";
import type { Logger } from "../shared/logger/index.ts";
import { startLocalNatsServer, type LocalNatsServer } from "../shared/nats-server/index.ts";
import type { AgentClientOptions } from "../shared/proto/index.ts";
import { openBus, type Bus } from "./bus/open-bus.ts";
import { startAnnouncer, type Announcer } from "./announce/announcer.ts";
import type { ResolvedWebhook } from "./announce/webhook-config.ts";
import { coordinatorIdentity } from "./rollout/make-runner.ts";
import { startRolloutScan } from "./rollout/scan-loop.ts";
import { startDashboard, type RunningDashboard } from "./dashboard/server.ts";
import type { ListenAddress } from "./dashboard/listen-address.ts";

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
  /** Serve the live web dashboard (docs/dashboard.md) on this address; its controls need `token` when set. */
  dashboard?: { listen: ListenAddress; token?: string };
  /** HOST:PORT to serve Prometheus metrics on (docs/metrics.md); none: no metrics listener. */
  metricsListen?: string;
  /** Webhooks to announce rollout events to (none: no announcements). */
  webhooks?: readonly ResolvedWebhook[];
}

export interface RunningCoordinator {
  natsUrl: string;
  owner: string;
  /** Where the dashboard is, when it was asked for. */
  dashboardUrl?: string;
  /** HOST:PORT of the metrics listener, when on. */
  metricsAddress?: string;
  stop(): Promise<void>;
}

/**
 * Starts the coordinator's own nats-server. It never attaches to a server it did not start: when
 * the port is taken, UNAVAILABLE says so and how to go on.
 */
async function startEmbeddedNats(options: CoordinatorOptions): Promise<LocalNatsServer> {
  try {
    return await startLocalNatsServer({ storeDir: join(options.stateDir, "nats"), port: options.embeddedPort });
  } catch (err) {
    if (!(err instanceof HoistError) || err.code !== "UNAVAILABLE" || options.embeddedPort === 0) throw err;
    const port = options.embeddedPort;
    throw new HoistError(
      "UNAVAILABLE",
      `cannot start the embedded nats-server on port ${port} (${err.message}); is another server using the port? Use that server with --nats nats://127.0.0.1:${port}, or give the embedded one another port (--nats-port, 0 for any free one)`,
      { cause: err, details: { port } },
    );
  }
}

/**
 * The coordinator daemon: the bus (an embedded nats-server when no URL is given) and the scan loop
 * that drives rollouts (coordinator/rollout/scan-loop.ts), the web dashboard and the metrics
 * listener when asked, and the announcer when webhooks are configured (coordinator/announce). Only wiring here.
 */
export async function runCoordinator(options: CoordinatorOptions, logger: Logger): Promise<RunningCoordinator> {
  let embedded: LocalNatsServer | undefined;
  let natsUrl = options.natsUrls?.join(",");
  if (!natsUrl) {
    embedded = await startEmbeddedNats(options);
    natsUrl = embedded.url;
    logger.info({ url: natsUrl }, "started the embedded nats-server (JetStream)");
  }
  const bus: Bus = await openBus({ nats: natsUrl, ...(options.natsToken ? { natsToken: options.natsToken } : {}), ...(options.natsReplicas ? { natsReplicas: options.natsReplicas } : {}) }, "hoist coordinator", {
    reconnectForever: true,
  });
  const owner = coordinatorIdentity();
  // Before the scan: a coordinator that cannot serve what it was asked to must not drive rollouts
  // (nor keep the process alive with its bus). Imported only when on: prom-client takes ~40 ms to
  // load, which every `hoist` command would pay.
  const metrics = options.metricsListen
    ? await (await import("./metrics/serve-coordinator-metrics.ts")).serveCoordinatorMetrics(bus, owner, options.metricsListen, logger).catch(async (err: unknown) => {
        await bus.close();
        await embedded?.stop();
        throw err;
      })
    : undefined;
  const announcer: Announcer | undefined = options.webhooks?.length
    ? await startAnnouncer({ nc: bus.nc, webhooks: options.webhooks, logger: logger.child({ part: "announce" }) }).catch(async (err: unknown) => {
        await metrics?.stop();
        await bus.close();
        await embedded?.stop();
        throw err;
      })
    : undefined;
  const scan = await startRolloutScan({ bus, owner, logger, agentGrpc: options.agentGrpc, ...(options.scanMs === undefined ? {} : { scanMs: options.scanMs }) });
  let dashboard: RunningDashboard | undefined;
  try {
    if (options.dashboard) dashboard = await startDashboard({ bus, logger, ...options.dashboard });
  } catch (err) {
    await scan.stop();
    await metrics?.stop();
    await announcer?.stop();
    await bus.close();
    await embedded?.stop();
    throw err;
  }
  logger.info({ owner, nats: natsUrl, metrics: metrics?.address }, "coordinator running");

  return {
    natsUrl,
    owner,
    ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
    ...(metrics ? { metricsAddress: metrics.address } : {}),
    async stop() {
      await dashboard?.stop();
      await metrics?.stop();
      await scan.stop();
      await announcer?.stop();
      await bus.close();
      await embedded?.stop();
    },
  };
}
