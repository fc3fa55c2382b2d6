import type { JetStreamManager, NatsConnection, KV } from "nats";
import { HoistError } from "../errors/index.ts";
import { EVENTS_STREAM, EVENTS_STREAM_SUBJECTS, KV_INVENTORY, KV_MIGRATIONS, KV_ROLLOUTS, KV_DESIRED } from "./subjects.ts";

/** How many JetStream servers keep a copy of each Hoist stream and bucket (RAFT group size). */
export type Replicas = 1 | 3 | 5;

export interface AssetOptions {
  /**
   * Replicas of HOIST_EVENTS and every KV bucket; existing ones are aligned to it, up or down.
   * Default `defaultReplicas(nc)`, which only ever raises existing ones.
   */
  replicas?: Replicas;
}

/** Checks a replicas setting from a flag or config: 1, 3 or 5, INVALID_ARGUMENT otherwise. */
export function parseReplicas(value: string | number): Replicas {
  const replicas = Number(value);
  if (replicas === 1 || replicas === 3 || replicas === 5) return replicas;
  throw new HoistError("INVALID_ARGUMENT", `replicas must be 1, 3 or 5 (a JetStream RAFT group of an odd size up to 5), got ${value}`);
}

/**
 * The replicas Hoist uses unless told otherwise: 3 when the server we are connected to is part of
 * a NATS cluster of 3 or more servers (its INFO names the cluster, and `connect_urls` lists the
 * client URLs of every server in it), else 1. A single server cannot place more than one replica.
 */
export function defaultReplicas(nc: NatsConnection): Replicas {
  const info = nc.info;
  if (!info?.cluster) return 1;
  const servers = new Set(info.connect_urls ?? []);
  return servers.size >= 3 ? 3 : 1;
}

/**
 * Makes an existing stream carry `replicas` (a bucket made R1 before the cluster grew is raised to
 * R3): JetStream adds or removes peers in place, keeping the data. A default (not `explicit`) only
 * ever raises the count: an agent behind a leaf node sees an unclustered server and defaults to 1,
 * which must not shrink the coordinator's R3 buckets.
 */
async function alignReplicas(jsm: JetStreamManager, stream: string, replicas: Replicas, explicit: boolean): Promise<void> {
  const info = await jsm.streams.info(stream);
  const current = info.config.num_replicas ?? 1;
  if (current === replicas || (!explicit && current > replicas)) return;
  await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
}

/**
 * Creates the HOIST_EVENTS stream if missing (idempotent; every part may call it), with
 * `replicas` (default: `defaultReplicas` of the manager's connection).
 */
export async function ensureEventsStream(jsm: JetStreamManager, options: AssetOptions = {}): Promise<void> {
  // nats.js's manager keeps its connection (BaseApiClient.getConnection), not part of the typed interface.
  const nc = (jsm as JetStreamManager & { getConnection?: () => NatsConnection }).getConnection?.();
  const replicas = options.replicas ?? (nc ? defaultReplicas(nc) : 1);
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    try {
      await jsm.streams.add({ name: EVENTS_STREAM, subjects: EVENTS_STREAM_SUBJECTS, max_age: 7 * 24 * 3600 * 1e9, max_msgs_per_subject: 100_000, num_replicas: replicas });
      return;
    } catch (err) {
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
    }
  }
  await alignReplicas(jsm, EVENTS_STREAM, replicas, options.replicas !== undefined);
}

export interface HoistBuckets {
  inventory: KV;
  rollouts: KV;
  desired: KV;
  migrations: KV;
}

/** Opens (creating when missing) the KV buckets of the control plane, each with `replicas`. */
export async function openBuckets(nc: NatsConnection, options: AssetOptions = {}): Promise<HoistBuckets> {
  const replicas = options.replicas ?? defaultReplicas(nc);
  const js = nc.jetstream();
  const [inventory, rollouts, desired, migrations] = await Promise.all([
    js.views.kv(KV_INVENTORY, { history: 1, replicas }),
    js.views.kv(KV_ROLLOUTS, { history: 5, replicas }),
    js.views.kv(KV_DESIRED, { history: 1, replicas }),
    js.views.kv(KV_MIGRATIONS, { history: 5, replicas }),
  ]);
  const jsm = await nc.jetstreamManager();
  await Promise.all([KV_INVENTORY, KV_ROLLOUTS, KV_DESIRED, KV_MIGRATIONS].map((bucket) => alignReplicas(jsm, `KV_${bucket}`, replicas, options.replicas !== undefined)));
  return { inventory, rollouts, desired, migrations };
}
