import { Option, type Command } from "commander";
import type { NatsConnection } from "nats";
import { connectBus, ensureEventsStream, formatBusWait, openBuckets, parseReplicas, retryBus, type BusWait, type HoistBuckets, type RetryBusOptions } from "../../shared/bus/index.ts";
import { HoistError } from "../../shared/errors/index.ts";

export interface BusFlags {
  nats: string;
  natsToken?: string;
  /** How long to retry NATS/JetStream trouble before giving up (ms, as given on the command line). */
  natsWaitMs?: string;
  /** Replicas of the control plane's stream and buckets (1, 3 or 5); default: 3 on a NATS cluster of 3+, else 1. */
  natsReplicas?: string;
}

/** Adds --nats (and --nats-token) to a command: where the control plane is. */
export function withBusOptions(command: Command): Command {
  return command
    .addOption(new Option("--nats <urls>", "NATS server URL(s), comma-separated").env("HOIST_NATS_URL").default("nats://127.0.0.1:4222"))
    .addOption(new Option("--nats-token <token>", "NATS auth token").env("HOIST_NATS_TOKEN"))
    .addOption(new Option("--nats-replicas <n>", "replicas (1, 3 or 5) of HOIST_EVENTS and the KV buckets when they are created or aligned; default 3 on a NATS cluster of 3+ servers, else 1").env("HOIST_NATS_REPLICAS"))
    .addOption(new Option("--nats-wait-ms <ms>", "how long to wait out NATS/JetStream trouble (timeouts, a restarting server) before failing").default(String(CLI_BUS_BUDGET_MS)));
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

/** How long operator commands (status, inventory, controls) retry NATS trouble before a clear error. */
export const CLI_BUS_BUDGET_MS = 20_000;

/** Connects an operator command to NATS and opens the control plane's buckets and stream (retried through brief NATS trouble). */
export async function openBus(flags: BusFlags, name: string, options: OpenBusOptions = {}): Promise<Bus> {
  const budgetMs = flags.natsWaitMs === undefined ? CLI_BUS_BUDGET_MS : Number(flags.natsWaitMs);
  if (!Number.isFinite(budgetMs) || budgetMs < 0) throw new HoistError("INVALID_ARGUMENT", `--nats-wait-ms must be a number of milliseconds, got ${flags.natsWaitMs}`);
  const nc = await connectBus({
    servers: flags.nats.split(",").map((url) => url.trim()),
    name,
    ...(flags.natsToken ? { token: flags.natsToken } : {}),
    ...(options.reconnectForever ? { reconnectForever: true } : { reconnectForMs: Math.max(budgetMs, 1000) }),
  });
  // Key listings can hang on a connection that is going away, so each try has its own timeout.
  const retry: RetryBusOptions = { budgetMs, attemptTimeoutMs: 5000, onWait: (wait: BusWait) => process.stderr.write(`${formatBusWait(wait)}\n`) };
  try {
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
