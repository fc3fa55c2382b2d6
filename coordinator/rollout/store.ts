import type { KV } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import { decodeJson, encodeJson, toBusError } from "../../shared/bus/index.ts";
import { formatIssues } from "../../shared/config/index.ts";
import { rolloutStateSchema, type RolloutState } from "./state.ts";

export interface Versioned<T> {
  value: T;
  revision: number;
}

/**
 * Rollout records in JetStream KV (bucket hoist_rollouts), key `CLUSTER.rollout.ID`. A record only
 * changes by compare-and-set on its revision: a writer that lost the race (or a fenced coordinator)
 * gets CONFLICT and must reload. NATS trouble comes out as retryable TIMEOUT or UNAVAILABLE
 * (`toBusError`), never as CONFLICT: callers retry those with `retryBus`. Records read are parsed
 * with rolloutStateSchema: one that does not match it is INTERNAL naming every bad field.
 */
export class RolloutStore {
  constructor(private readonly kv: KV) {}

  static key(cluster: string, id: string): string {
    return `${cluster}.rollout.${id}`;
  }

  async create(value: RolloutState): Promise<Versioned<RolloutState>> {
    try {
      const revision = await this.kv.create(RolloutStore.key(value.cluster, value.id), encodeJson(value));
      return { value, revision };
    } catch (err) {
      const error = toBusError(err, `creating rollout ${value.id}`);
      if (error.code === "CONFLICT") throw new HoistError("CONFLICT", `rollout ${value.id} already exists`, { cause: err });
      throw error;
    }
  }

  async load(cluster: string, id: string): Promise<Versioned<RolloutState> | undefined> {
    const key = RolloutStore.key(cluster, id);
    const entry = await this.kv.get(key).catch((err: unknown) => {
      throw toBusError(err, `reading rollout ${id}`);
    });
    if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return undefined;
    return { value: parseRollout(key, entry.value), revision: entry.revision };
  }

  /** Writes `value` only if the stored revision is still `revision`; CONFLICT otherwise. */
  async save(value: RolloutState, revision: number): Promise<Versioned<RolloutState>> {
    try {
      const next = await this.kv.update(RolloutStore.key(value.cluster, value.id), encodeJson(value), revision);
      return { value, revision: next };
    } catch (err) {
      const error = toBusError(err, `saving rollout ${value.id}`);
      if (error.code === "CONFLICT") throw new HoistError("CONFLICT", `rollout ${value.id} changed under us (expected revision ${revision}); reloading`, { cause: err });
      throw error;
    }
  }

  /** Every rollout of a cluster (or of all clusters), oldest key first. */
  async list(cluster?: string): Promise<Versioned<RolloutState>[]> {
    const keys: string[] = [];
    try {
      const iterator = await this.kv.keys(cluster === undefined ? "*.rollout.*" : `${cluster}.rollout.*`);
      for await (const key of iterator) keys.push(key);
    } catch (err) {
      throw toBusError(err, "listing rollouts");
    }
    const loaded = await Promise.all(
      keys.sort().map(async (key) => {
        const entry = await this.kv.get(key).catch((err: unknown) => {
          throw toBusError(err, `reading ${key}`);
        });
        return entry && entry.operation === "PUT" && entry.value.length > 0 ? { value: parseRollout(key, entry.value), revision: entry.revision } : undefined;
      }),
    );
    return loaded.filter((item): item is Versioned<RolloutState> => item !== undefined);
  }
}

/** Decodes and checks a rollout record read from KV. */
function parseRollout(key: string, bytes: Uint8Array): RolloutState {
  const parsed = rolloutStateSchema.safeParse(decodeJson<unknown>(bytes));
  if (parsed.success) return parsed.data;
  throw new HoistError("INTERNAL", `rollout record ${key} does not match the rollout schema (${formatIssues(parsed.error.issues).join("; ")}); it was written by another version of Hoist or edited by hand`);
}
