import type { KV, KvEntry } from "nats";
import type { z } from "zod";
import { HoistError } from "../../shared/errors/index.ts";
import { decodeJson, encodeJson, readLatest, toBusError } from "../../shared/bus/index.ts";
import { formatIssues } from "../../shared/config/index.ts";
import {
  allNodes,
  applyDelta,
  assembleRollout,
  headerChanged,
  headerPart,
  nodesOfHop,
  planPart,
  rolloutDelta,
  rolloutDeltaSchema,
  rolloutHeaderSchema,
  rolloutPlanPartSchema,
  type RolloutDelta,
  type RolloutParts,
} from "./record-delta.ts";
import { historyEntrySchema, nodeHopStateSchema, rolloutStateSchema, type RolloutPhase, type RolloutState } from "./state.ts";

export interface Versioned<T> {
  value: T;
  revision: number;
}

/** What the coordinator's scan and `rollout start` need of every rollout: one KV get each. */
export interface RolloutSummary {
  cluster: string;
  id: string;
  phase: RolloutPhase;
  createdAt: number;
}

/**
 * Rollout records in JetStream KV (bucket hoist_rollouts), laid out so that a write costs what it
 * changed, whatever the size of the fleet (record-delta.ts): a small header, the plan written once,
 * one key per node and hop, an append-only history, and `wal`, the last commit's delta.
 *
 * A commit (RolloutJournal.commit) first writes its delta to `wal` by compare-and-set on the
 * revision it last saw: that write is the commit, and it fences every other writer (a second
 * coordinator, an operator's control): whoever lost the race gets CONFLICT and reopens. Then the
 * changed keys are written, each by compare-and-set too, so a writer fenced out half-way can never
 * overwrite a newer value. A crash between the two leaves `wal` ahead of the keys: every reader lays
 * `wal` over what it read, and the next writer writes it out first (roll forward).
 *
 * NATS trouble comes out as retryable TIMEOUT or UNAVAILABLE (`toBusError`), never as CONFLICT:
 * callers retry those with `retryBus`. Parts that do not match their schema are INTERNAL naming
 * every bad field.
 */
export class RolloutStore {
  constructor(private readonly kv: KV) {}

  static key(cluster: string, id: string): string {
    return `${cluster}.rollout.${id}`;
  }

  /** Records a new rollout; CONFLICT when one with its id exists. */
  async create(value: RolloutState): Promise<Versioned<RolloutState>> {
    const base = RolloutStore.key(value.cluster, value.id);
    const delta: RolloutDelta = { seq: 0, header: headerPart(value), nodes: [], history: [] };
    const walRevision = await this.write(`${base}.wal`, encodeJson(delta), 0, `creating rollout ${value.id}`).catch((err: unknown) => {
      if (err instanceof HoistError && err.code === "CONFLICT") throw new HoistError("CONFLICT", `rollout ${value.id} already exists`, { cause: err });
      throw err;
    });
    await this.writeParts(value, {});
    await this.write(base, encodeJson(headerPart(value)), 0, `creating rollout ${value.id}`);
    return { value, revision: walRevision };
  }

  /** A rollout as it stands (the last commit included), for readers; undefined when there is none. */
  async load(cluster: string, id: string): Promise<Versioned<RolloutState> | undefined> {
    const read = await this.read(cluster, id);
    return read && { value: read.state, revision: read.walRevision };
  }

  /**
   * A rollout opened for writing: the last commit is written out first when a crash left it half
   * done, and a record of the old single-key layout is converted. Undefined when there is none.
   */
  async open(cluster: string, id: string): Promise<RolloutJournal | undefined> {
    const read = await this.read(cluster, id);
    if (!read) return undefined;
    if (read.legacy) {
      await this.writeParts(read.state, read.revisions);
      const delta: RolloutDelta = { seq: 0, header: headerPart(read.state), nodes: [], history: [] };
      read.walRevision = await this.write(`${RolloutStore.key(cluster, id)}.wal`, encodeJson(delta), 0, `converting rollout ${id}`);
      read.revisions.set(RolloutStore.key(cluster, id), await this.write(RolloutStore.key(cluster, id), encodeJson(headerPart(read.state)), read.revisions.get(RolloutStore.key(cluster, id)) ?? 0, `converting rollout ${id}`));
    } else if (read.delta) {
      await this.writeDelta(cluster, id, read.delta, read.revisions, read.stored);
    }
    return new RolloutJournal(this, read.state, read.walRevision, read.delta?.seq ?? 0, read.revisions);
  }

  /** Every rollout of a cluster (or of all clusters), oldest key first, read whole. */
  async list(cluster?: string): Promise<Versioned<RolloutState>[]> {
    const summaries = await this.summaries(cluster);
    const loaded = await Promise.all(summaries.map((summary) => this.load(summary.cluster, summary.id)));
    return loaded.filter((item): item is Versioned<RolloutState> => item !== undefined);
  }

  /** Every rollout of a cluster (or of all clusters), oldest key first, with its phase: one get per rollout. */
  async summaries(cluster?: string): Promise<RolloutSummary[]> {
    const keys: string[] = [];
    try {
      const iterator = await this.kv.keys(cluster === undefined ? "*.rollout.*" : `${cluster}.rollout.*`);
      for await (const key of iterator) keys.push(key);
    } catch (err) {
      throw toBusError(err, "listing rollouts");
    }
    // A listing can name a key twice when it is written meanwhile.
    const found = await Promise.all(
      [...new Set(keys)].sort().map(async (key): Promise<RolloutSummary | undefined> => {
        const [cluster, , id] = key.split(".");
        if (!cluster || !id) return undefined;
        const wal = await this.get(`${key}.wal`);
        if (wal) {
          const { header } = parse(rolloutDeltaSchema, `${key}.wal`, wal.value);
          return { cluster, id, phase: header.phase, createdAt: header.createdAt };
        }
        const header = await this.get(key);
        if (!header) return undefined;
        const legacy = parse(rolloutStateSchema, key, header.value);
        return { cluster, id, phase: legacy.phase, createdAt: legacy.createdAt };
      }),
    );
    return found.filter((item): item is RolloutSummary => item !== undefined);
  }

  /** The revision of a rollout's last commit (0 when none): one get, to notice writes of others. */
  async walRevision(cluster: string, id: string): Promise<number> {
    return (await this.get(`${RolloutStore.key(cluster, id)}.wal`))?.revision ?? 0;
  }

  /** Writes a commit's delta to `wal` by compare-and-set; the new revision. */
  async writeWal(cluster: string, id: string, delta: RolloutDelta, revision: number): Promise<number> {
    return this.write(`${RolloutStore.key(cluster, id)}.wal`, encodeJson(delta), revision, `saving rollout ${id}`);
  }

  /**
   * Writes out what a delta changed, each key by compare-and-set on the revision in `revisions`
   * (updated in place). With `stored`, only keys whose stored value differs (a roll forward).
   * Without `writeHeader` the header key is left as it is: a header that changed only its update
   * time is in `wal`, which every reader lays over the keys, and is written with the next change.
   */
  async writeDelta(cluster: string, id: string, delta: RolloutDelta, revisions: Map<string, number>, stored?: Map<string, string>, writeHeader = true): Promise<void> {
    const base = RolloutStore.key(cluster, id);
    const writes: [string, unknown][] = [
      ...delta.nodes.map((change): [string, unknown] => [nodeKey(base, change.hop, change.node), change.state]),
      ...delta.history.map((append): [string, unknown] => [historyKey(base, append.index), append.entry]),
    ];
    await this.writeAll(writes, revisions, stored, `saving rollout ${id}`);
    // The header last: a reader that finds it current finds everything it names.
    if (writeHeader) await this.writeAll([[base, delta.header]], revisions, stored, `saving rollout ${id}`);
  }

  private async writeParts(state: RolloutState, revisions: Map<string, number> | Record<string, never>): Promise<void> {
    const base = RolloutStore.key(state.cluster, state.id);
    const known = revisions instanceof Map ? revisions : new Map<string, number>();
    const writes: [string, unknown][] = [
      [`${base}.plan`, planPart(state)],
      ...allNodes(state).map((change): [string, unknown] => [nodeKey(base, change.hop, change.node), change.state]),
      ...state.history.map((entry, index): [string, unknown] => [historyKey(base, index), entry]),
    ];
    await this.writeAll(writes, known, undefined, `creating rollout ${state.id}`);
  }

  private async writeAll(writes: [string, unknown][], revisions: Map<string, number>, stored: Map<string, string> | undefined, what: string): Promise<void> {
    await Promise.all(
      writes.map(async ([key, value]) => {
        const bytes = encodeJson(value);
        if (stored && stored.get(key) === new TextDecoder().decode(bytes)) return;
        revisions.set(key, await this.write(key, bytes, revisions.get(key) ?? 0, what));
      }),
    );
  }

  /** A compare-and-set put: `revision` 0 means the key must not exist. */
  private async write(key: string, bytes: Uint8Array, revision: number, what: string): Promise<number> {
    try {
      return revision === 0 ? await this.kv.create(key, bytes) : await this.kv.update(key, bytes, revision);
    } catch (err) {
      const error = toBusError(err, what);
      if (error.code === "CONFLICT") throw new HoistError("CONFLICT", `${what}: ${key} changed under us (expected revision ${revision}); reloading`, { cause: err });
      throw error;
    }
  }

  private async get(key: string): Promise<KvEntry | undefined> {
    const entry = await this.kv.get(key).catch((err: unknown) => {
      throw toBusError(err, `reading ${key}`);
    });
    return entry && entry.operation === "PUT" && entry.value.length > 0 ? entry : undefined;
  }

  /** Reads a rollout's keys (header by get, the rest by one watch), lays `wal` over them and assembles the state. */
  private async read(cluster: string, id: string): Promise<ReadRollout | undefined> {
    const base = RolloutStore.key(cluster, id);
    const header = await this.get(base);
    if (!header) return undefined;
    const revisions = new Map<string, number>([[base, header.revision]]);
    const stored = new Map<string, string>([[base, new TextDecoder().decode(header.value)]]);
    const entries = await readLatest(this.kv, `${base}.>`, `reading rollout ${id}`);
    const wal = entries.get(`${base}.wal`);
    if (!wal) {
      // A record of the single-key layout (Hoist before per-node keys): the header is the whole rollout.
      return { state: parse(rolloutStateSchema, base, header.value), walRevision: 0, revisions, stored, legacy: true };
    }
    const parts: Partial<RolloutParts> & Pick<RolloutParts, "nodes" | "history"> = { nodes: new Map(), history: new Map(), header: parse(rolloutHeaderSchema, base, header.value) };
    for (const [key, entry] of entries) {
      revisions.set(key, entry.revision);
      stored.set(key, new TextDecoder().decode(entry.value));
      const rest = key.slice(base.length + 1);
      if (rest === "plan") parts.plan = parse(rolloutPlanPartSchema, key, entry.value);
      else if (rest.startsWith("n.")) {
        const [hop, ...node] = rest.slice(2).split(".");
        nodesOfHop(parts as RolloutParts, Number(hop)).set(node.join("."), parse(nodeHopStateSchema, key, entry.value));
      } else if (rest.startsWith("h.")) parts.history.set(Number(rest.slice(2)), parse(historyEntrySchema, key, entry.value));
    }
    if (!parts.plan) throw new HoistError("INTERNAL", `rollout ${id} of cluster ${cluster} has no plan (${base}.plan is missing)`);
    const delta = parse(rolloutDeltaSchema, `${base}.wal`, wal.value);
    applyDelta(parts as RolloutParts, delta);
    const assembled = assembleRollout(parts as RolloutParts);
    if ("missing" in assembled)
      throw new HoistError("INTERNAL", `rollout ${id} of cluster ${cluster} is incomplete in KV: no ${assembled.missing.slice(0, 5).join(", ")}${assembled.missing.length > 5 ? ` and ${assembled.missing.length - 5} more` : ""}`);
    return { state: assembled.state, walRevision: wal.revision, revisions, stored, delta, legacy: false };
  }
}

interface ReadRollout {
  state: RolloutState;
  walRevision: number;
  revisions: Map<string, number>;
  stored: Map<string, string>;
  delta?: RolloutDelta;
  legacy: boolean;
}

/**
 * A rollout open for writing by one process: the state as this writer last committed it, and the
 * revisions its compare-and-sets expect. Commits are serialized in-process; a writer never refuses
 * its own writes, and CONFLICT means another writer committed first (reopen and fold again).
 */
export class RolloutJournal {
  constructor(
    private readonly store: RolloutStore,
    private current: RolloutState,
    private walRevision: number,
    private seq: number,
    private readonly revisions: Map<string, number>,
  ) {}

  get state(): RolloutState {
    return this.current;
  }

  get revision(): number {
    return this.walRevision;
  }

  /**
   * True when someone else committed since this journal's last commit (one KV get). False while
   * this journal's own commits are being written (the stored revision is then ours, or a foreign
   * commit that our next compare-and-set will meet as CONFLICT), and for a revision older than
   * ours (a replica that lags behind).
   */
  async changedElsewhere(): Promise<boolean> {
    if (this.flushing || this.pending.length > 0) return false;
    const stored = await this.store.walRevision(this.current.cluster, this.current.id);
    return !this.flushing && this.pending.length === 0 && stored > this.walRevision;
  }

  /** Refuses every later change (CONFLICT): the writer reads the rollout again into a new journal. */
  retire(reason: string): void {
    this.broken ??= new HoistError("CONFLICT", `rollout ${this.current.id}: ${reason}`);
  }

  /**
   * Folds and commits: `change` gets the state as last committed (never a stale copy: changes run
   * one after another) and returns the next state with whatever else it has to say; only what
   * changed is written (the header, the changed nodes, the new history entries). Changes that
   * arrive while a commit is being written are folded together into the next one (group commit:
   * a burst of 1,000 step results is a handful of commits, each still O(what changed)). A commit
   * that failed leaves the journal unusable (every later call throws CONFLICT): reopen.
   */
  update<T extends { state: RolloutState }>(change: (state: RolloutState) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ change, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private broken: HoistError | undefined;
  private flushing = false;
  private readonly pending: PendingChange[] = [];

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, GROUP_COMMIT_MAX);
        if (this.broken) {
          for (const item of group) item.reject(this.broken);
          continue;
        }
        let next = this.current;
        const results: { item: PendingChange; result?: { state: RolloutState }; error?: unknown }[] = [];
        for (const item of group) {
          try {
            const result = item.change(next);
            next = result.state;
            results.push({ item, result });
          } catch (error) {
            results.push({ item, error });
          }
        }
        try {
          await this.commit(next);
          for (const { item, result, error } of results)
            if (result) item.resolve(result);
            else item.reject(error);
        } catch (err) {
          for (const { item } of results) item.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(next: RolloutState): Promise<void> {
    if (next === this.current) return;
    const delta = rolloutDelta(this.current, next, this.seq + 1);
    const writeHeader = headerChanged(this.current, delta);
    if (delta.nodes.length === 0 && delta.history.length === 0 && !writeHeader) {
      this.current = next;
      return;
    }
    const { cluster, id } = next;
    try {
      this.walRevision = await this.store.writeWal(cluster, id, delta, this.walRevision);
      this.seq = delta.seq;
      await this.store.writeDelta(cluster, id, delta, this.revisions, undefined, writeHeader);
      this.current = next;
    } catch (err) {
      // The wal may or may not have landed: only a fresh read knows what is committed.
      this.broken = new HoistError("CONFLICT", `rollout ${id} must be read again after a failed write`, { cause: err });
      throw err;
    }
  }
}

interface PendingChange {
  change: (state: RolloutState) => { state: RolloutState };
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** At most this many changes go into one commit (each usually touches one node: a commit stays far below NATS's max_payload). */
const GROUP_COMMIT_MAX = 200;

function nodeKey(base: string, hop: number, node: string): string {
  return `${base}.n.${hop}.${node}`;
}

function historyKey(base: string, index: number): string {
  return `${base}.h.${index}`;
}

/** Decodes and checks one part of a rollout read from KV. */
function parse<T extends z.ZodType>(schema: T, key: string, bytes: Uint8Array): z.output<T> {
  const parsed = schema.safeParse(decodeJson<unknown>(bytes));
  if (parsed.success) return parsed.data;
  throw new HoistError("INTERNAL", `rollout record ${key} does not match its schema (${formatIssues(parsed.error.issues).join("; ")}); it was written by another version of Hoist or edited by hand`);
}
