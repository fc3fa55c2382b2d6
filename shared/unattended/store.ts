import type { KV, KvEntry, NatsConnection } from "nats";
import { decodeJson, defaultReplicas, encodeJson, type Replicas } from "../bus/index.ts";
import { parseWithSchema } from "../config/index.ts";
import { HoistError } from "../errors/index.ts";
import type { Logger } from "../logger/index.ts";
import type { ResolvedDesired } from "./decide.ts";
import { channelKey, controlKey, desiredKey, KV_UNATTENDED, nodeReportKey, rolloutFilter, slotKey, unattendedNotifySubject } from "./keys.ts";
import { controlSchema, nodeReportSchema, slotSchema, storedDesiredSchema, type Control, type NodeReport, type NotifyDelta, type Slot, type StoredDesired } from "./records.ts";
import { desiredRolloutSchema } from "./schema.ts";

/** How long the initial values of a rollout read may take before it is given up (retryable). */
const INITIAL_VALUES_MS = 10_000;
/** Revisions of each key kept: `hoist unattended get --revision` reads older documents. */
const HISTORY = 10;

/** Opens (creating when missing) the `hoist_unattended` bucket. */
export async function openUnattendedBucket(nc: NatsConnection, replicas?: Replicas): Promise<KV> {
  return nc.jetstream().views.kv(KV_UNATTENDED, { history: HISTORY, replicas: replicas ?? defaultReplicas(nc) });
}

/** Everything of one rollout, read at once: what `decideUnattended` and `status` need. */
export interface RolloutSnapshot {
  stored?: { value: StoredDesired; revision: number };
  control: { value: Control; revision: number };
  nodes: NodeReport[];
  slots: (Slot & { index: number; key: string; revision: number })[];
}

const EMPTY_CONTROL: Control = { quarantined: {}, failures: [], holds: {}, pins: {}, releases: [] };

function parse<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, entry: KvEntry, logger?: Logger): T | undefined {
  if (entry.operation !== "PUT" || entry.value.length === 0) return undefined;
  let raw: unknown;
  try {
    raw = decodeJson(entry.value);
  } catch {
    raw = undefined;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  logger?.warn({ key: entry.key }, "skipping an invalid unattended record");
  return undefined;
}

/**
 * The unattended rollout records of KV `hoist_unattended` (keys.ts), read and written the same way
 * by agents and by `hoist unattended`: direct gets for single keys, one short watch for a whole
 * rollout (no consumer stays open), compare-and-set for the control record and the slots.
 */
export class UnattendedStore {
  constructor(
    readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly logger?: Logger,
  ) {}

  /** Reads every key of CLUSTER.SERVICE with one watch that stops after the initial values. */
  async readRollout(cluster: string, service: string): Promise<RolloutSnapshot> {
    const snapshot: RolloutSnapshot = { control: { value: EMPTY_CONTROL, revision: 0 }, nodes: [], slots: [] };
    const state: { initialized: boolean; stop?: () => void } = { initialized: false };
    const watcher = await this.kv.watch({
      key: rolloutFilter(cluster, service),
      initializedFn: () => {
        state.initialized = true;
        state.stop?.();
      },
    });
    state.stop = () => watcher.stop();
    if (state.initialized) watcher.stop();
    const timer = setTimeout(() => watcher.stop(), INITIAL_VALUES_MS);
    const prefix = `${cluster}.${service}.`;
    try {
      for await (const entry of watcher) {
        const rest = entry.key.slice(prefix.length).split(".");
        if (rest[0] === "desired") {
          const value = parse(storedDesiredSchema, entry, this.logger);
          if (value) snapshot.stored = { value, revision: entry.revision };
        } else if (rest[0] === "control") {
          const value = parse(controlSchema, entry, this.logger);
          snapshot.control = { value: value ?? EMPTY_CONTROL, revision: entry.revision };
        } else if (rest[0] === "node") {
          const value = parse(nodeReportSchema, entry, this.logger);
          if (value) snapshot.nodes.push(value);
        } else if (rest[0] === "slot" && rest.length === 3) {
          const value = parse(slotSchema, entry, this.logger);
          if (value) snapshot.slots.push({ ...value, index: Number(rest[2]), key: entry.key, revision: entry.revision });
        }
      }
    } finally {
      clearTimeout(timer);
    }
    if (!state.initialized) throw new HoistError("TIMEOUT", `the unattended rollout ${cluster}/${service} in KV did not arrive within ${INITIAL_VALUES_MS} ms`, { retryable: true });
    return snapshot;
  }

  /** The desired document (one direct get), or undefined. `revision` reads an older one. */
  async readDesired(cluster: string, service: string, revision?: number): Promise<{ value: StoredDesired; revision: number } | undefined> {
    const entry = await this.kv.get(desiredKey(cluster, service), revision === undefined ? undefined : { revision });
    const value = entry ? parse(storedDesiredSchema, entry, this.logger) : undefined;
    return value && entry ? { value, revision: entry.revision } : undefined;
  }

  /** The control record alone (one direct get): what a node re-checks after taking a slot. */
  async readControl(cluster: string, service: string): Promise<Control> {
    const entry = await this.kv.get(controlKey(cluster, service));
    return (entry && parse(controlSchema, entry, this.logger)) ?? EMPTY_CONTROL;
  }

  /** Stores a new revision of the desired document and announces it; returns the revision. */
  async putDesired(cluster: string, service: string, stored: StoredDesired): Promise<number> {
    const revision = await this.kv.put(desiredKey(cluster, service), encodeJson(stored));
    this.notify(cluster, service, "desired");
    return revision;
  }

  /** The version channel NAME names in CLUSTER, or undefined. */
  async readChannel(cluster: string, channel: string): Promise<string | undefined> {
    const entry = await this.kv.get(channelKey(cluster, channel));
    return entry && entry.operation === "PUT" && entry.value.length > 0 ? decodeJson<string>(entry.value) : undefined;
  }

  async putChannel(cluster: string, channel: string, version: string, services: readonly string[]): Promise<void> {
    await this.kv.put(channelKey(cluster, channel), encodeJson(version));
    for (const service of services) this.notify(cluster, service, "channel");
  }

  /**
   * Changes the control record by compare-and-set, retried on a lost race; `change` returns the new
   * record, or undefined to leave it. Announces the change. Returns the record as stored.
   */
  async updateControl(cluster: string, service: string, change: (control: Control) => Control | undefined): Promise<Control> {
    const key = controlKey(cluster, service);
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.kv.get(key);
      const current = (entry && parse(controlSchema, entry, this.logger)) ?? EMPTY_CONTROL;
      const next = change(structuredClone(current));
      if (next === undefined) return current;
      try {
        if (entry) await this.kv.update(key, encodeJson(next), entry.revision);
        else await this.kv.create(key, encodeJson(next));
        this.notify(cluster, service, "control");
        return next;
      } catch (err) {
        if (!/wrong last sequence|key exists/i.test((err as Error).message)) throw err;
      }
    }
    throw new HoistError("CONFLICT", `the control record of ${cluster}/${service} kept changing under 20 attempts; try again`);
  }

  /** One node's report (one direct get), or undefined. */
  async readReport(cluster: string, service: string, node: string): Promise<NodeReport | undefined> {
    const entry = await this.kv.get(nodeReportKey(cluster, service, node));
    return entry ? parse(nodeReportSchema, entry, this.logger) : undefined;
  }

  async putReport(cluster: string, service: string, report: NodeReport): Promise<void> {
    await this.kv.put(nodeReportKey(cluster, service, report.node), encodeJson(report));
  }

  /** Takes slot INDEX of WAVE if nobody holds it (create-if-absent); its revision, or undefined when taken. */
  async takeSlot(cluster: string, service: string, index: number, slot: Slot): Promise<number | undefined> {
    try {
      return await this.kv.create(slotKey(cluster, service, slot.wave, index), encodeJson(slot));
    } catch (err) {
      if (/wrong last sequence|key exists/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /** Refreshes a held slot by compare-and-set; the new revision, or undefined when someone else changed it (charged or released). */
  async refreshSlot(cluster: string, service: string, index: number, slot: Slot, revision: number): Promise<number | undefined> {
    try {
      return await this.kv.update(slotKey(cluster, service, slot.wave, index), encodeJson(slot), revision);
    } catch (err) {
      if (/wrong last sequence/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /** Frees a slot (its holder finished, or an operator acknowledged it); `revision` makes it conditional. Announced with the freed slot as delta. */
  async releaseSlot(cluster: string, service: string, wave: string, index: number, revision?: number): Promise<void> {
    await this.kv.delete(slotKey(cluster, service, wave, index), revision === undefined ? undefined : { previousSeq: revision });
    this.notify(cluster, service, "slot", { freed: { wave, index, ...(revision === undefined ? {} : { revision }) } });
  }

  /**
   * Announces a change on the plain notify subject (at most once: agents also poll). A `delta`
   * (records.ts `notifySchema`) lets agents update the rollout they hold without reading it again.
   */
  notify(cluster: string, service: string, what: string, delta: NotifyDelta = {}): void {
    this.nc.publish(unattendedNotifySubject(cluster, service), encodeJson({ what, at: Date.now(), ...delta }));
  }
}

/**
 * The stored document parsed and its target resolved (a channel looked up).
 * @throws HoistError CONFIG_INVALID when the stored text is not a valid document.
 */
export async function resolveDesired(store: UnattendedStore, stored: StoredDesired): Promise<ResolvedDesired> {
  const doc = parseWithSchema(desiredRolloutSchema, JSON.parse(stored.text), "the stored desired state");
  const target = doc.target ?? (doc.channel === undefined ? undefined : await store.readChannel(doc.cluster, doc.channel));
  return { doc, target, setAt: stored.setAt };
}
