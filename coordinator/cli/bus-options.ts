import { Option, type Command } from "commander";
import type { NatsConnection } from "nats";
import { connectBus, ensureEventsStream, openBuckets, type HoistBuckets } from "../../shared/bus/index.ts";

export interface BusFlags {
  nats: string;
  natsToken?: string;
}

/** Adds --nats (and --nats-token) to a command: where the control plane is. */
export function withBusOptions(command: Command): Command {
  return command
    .addOption(new Option("--nats <urls>", "NATS server URL(s), comma-separated").env("HOIST_NATS_URL").default("nats://127.0.0.1:4222"))
    .addOption(new Option("--nats-token <token>", "NATS auth token").env("HOIST_NATS_TOKEN"));
}

export interface Bus {
  nc: NatsConnection;
  buckets: HoistBuckets;
  close(): Promise<void>;
}

/** Connects an operator command to NATS and opens the control plane's buckets and stream. */
export async function openBus(flags: BusFlags, name: string): Promise<Bus> {
  const nc = await connectBus({ servers: flags.nats.split(",").map((url) => url.trim()), name, ...(flags.natsToken ? { token: flags.natsToken } : {}) });
  const buckets = await openBuckets(nc);
  await ensureEventsStream(await nc.jetstreamManager());
  return {
    nc,
    buckets,
    async close() {
      await nc.drain().catch(() => undefined);
    },
  };
}
