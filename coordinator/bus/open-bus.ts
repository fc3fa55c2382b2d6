import type { NatsConnection } from "nats";
import { connectBus, ensureEventsStream, requireJetStream, formatBusWait, openBuckets, parseReplicas, retryBus, type BusWait, type HoistBuckets, type RetryBusOptions } from "../../shared/bus/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import { CLI_BUS_BUDGET_MS } from "./cli-budget.ts";

/** Where the control plane is, as operator commands and the daemon are told it (strings, as given on the command line). */
export interface BusAddress {
  /** NATS server URL(s), comma-separated. */
  nats: string;
  natsToken?: string;
  /** How long to retry NATS/JetStream trouble before giving up (ms). */
  natsWaitMs?: string;
  /** Replicas of the control plane's stream and buckets (1, 3 or 5); default: 3 on a NATS cluster of 3+, else 1. */
  natsReplicas?: string;
}

export interface Bus {
  nc: NatsConnection;
  buckets: HoistBuckets;
  /** How this command retries NATS trouble (`retryBus(what, fn, bus.retry)`): its budget, "waiting for NATS" on stderr. */
  retry: RetryBusOptions;
  close(): Promise<void>;
}

export interface OpenBusOptions {
  /**
   * Keep reconnecting for as long as the process runs (commands that drive a rollout: they must
   * ride out a NATS restart). Other commands reconnect for `CLI_BUS_BUDGET_MS`, as long as they retry.
   */
  reconnectForever?: boolean;
}

export { CLI_BUS_BUDGET_MS };

/** Connects a command or the daemon to NATS and opens the control plane's buckets and stream (retried through brief NATS trouble). */
export async function openBus(flags: BusAddress, name: string, options: OpenBusOptions = {}): Promise<Bus> {
  const budgetMs = flags.natsWaitMs === undefined ? CLI_BUS_BUDGET_MS : Number(flags.natsWaitMs);
  if (!Number.isFinite(budgetMs) || budgetMs < 0) throw new HoistError("INVALID_ARGUMENT", `--nats-wait-ms must be a number of milliseconds, got ${flags.natsWaitMs}`);
  const servers = flags.nats.split(",").map((url) => url.trim());
  const nc = await connectBus({
    servers,
    name,
    // Operator commands and the daemon do not need a stack per NATS request (a rollout makes tens of thousands).
    asyncTraces: false,
    ...(flags.natsToken ? { token: flags.natsToken } : {}),
    ...(options.reconnectForever ? { reconnectForever: true } : { reconnectForMs: Math.max(budgetMs, 1000) }),
  });
  // Key listings can hang on a connection that is going away, so each try has its own timeout.
  const retry: RetryBusOptions = { budgetMs, attemptTimeoutMs: 5000, onWait: (wait: BusWait) => process.stderr.write(`${formatBusWait(wait)}\n`) };
  try {
    await requireJetStream(nc, servers);
    const assets = flags.natsReplicas === undefined ? {} : { replicas: parseReplicas(flags.natsReplicas) };
    const buckets = await retryBus("opening the KV buckets", () => openBuckets(nc, assets), retry);
    await retryBus("opening the events stream", async () => ensureEventsStream(await nc.jetstreamManager(), assets), retry);
    return {
      nc,
      buckets,
      retry,
      async close() {
        await nc.drain().catch(() => undefined);
      },
    };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
