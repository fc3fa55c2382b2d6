import type { JetStreamManager, NatsConnection, KV } from "nats";
import { EVENTS_STREAM, EVENTS_STREAM_SUBJECTS, KV_INVENTORY, KV_MIGRATIONS, KV_ROLLOUTS, KV_DESIRED } from "./subjects.ts";

/** Creates the HOIST_EVENTS stream if missing (idempotent; every part may call it). */
export async function ensureEventsStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    try {
      await jsm.streams.add({ name: EVENTS_STREAM, subjects: EVENTS_STREAM_SUBJECTS, max_age: 7 * 24 * 3600 * 1e9, max_msgs_per_subject: 100_000 });
    } catch (err) {
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
    }
  }
}

export interface HoistBuckets {
  inventory: KV;
  rollouts: KV;
  desired: KV;
  migrations: KV;
}

/** Opens (creating when missing) the KV buckets of the control plane. */
export async function openBuckets(nc: NatsConnection): Promise<HoistBuckets> {
  const js = nc.jetstream();
  const [inventory, rollouts, desired, migrations] = await Promise.all([
    js.views.kv(KV_INVENTORY, { history: 1 }),
    js.views.kv(KV_ROLLOUTS, { history: 5 }),
    js.views.kv(KV_DESIRED, { history: 1 }),
    js.views.kv(KV_MIGRATIONS, { history: 5 }),
  ]);
  return { inventory, rollouts, desired, migrations };
}
