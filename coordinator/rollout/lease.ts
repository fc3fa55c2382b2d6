import { setTimeout as sleep } from "node:timers/promises";
import type { KV } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import { decodeJson, encodeJson, toBusError } from "../../shared/bus/index.ts";

export interface LeaseRecord {
  owner: string;
  /** Grows by one at every takeover; a coordinator writes only while its epoch is the current one. */
  epoch: number;
  expiresAt: number;
}

/**
 * The lease that makes one coordinator drive a cluster (key `CLUSTER.lease` in hoist_rollouts).
 * Taken by create, or by compare-and-set once the holder let it expire; renewed by compare-and-set,
 * so a coordinator that was paused past its lease finds the revision moved and is fenced out.
 *
 * Only a proven other holder takes the lease away: a compare-and-set that lost to a write of
 * someone else. NATS trouble (timeout, no responders, JetStream unavailable) comes out as a
 * retryable TIMEOUT or UNAVAILABLE and leaves the lease held; callers retry (`retryBus`). A
 * renewal whose write landed but whose answer was lost is recognised on the next try (the stored
 * record is still ours, same owner and epoch) and adopted, not mistaken for a takeover.
 */
export class ClusterLease {
  private revision = 0;
  private record: LeaseRecord | undefined;
  /** Renewals and the release run one after another: each compare-and-set needs the revision the previous one wrote. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    private readonly cluster: string,
    readonly owner: string,
    private readonly ttlMs = 10_000,
  ) {}

  get key(): string {
    return `${this.cluster}.lease`;
  }

  get epoch(): number {
    return this.record?.epoch ?? 0;
  }

  /** Who holds the lease now, if anyone holds a live one. */
  async holder(now = Date.now()): Promise<LeaseRecord | undefined> {
    const entry = await this.read();
    if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return undefined;
    const record = decodeJson<LeaseRecord>(entry.value);
    return record.expiresAt > now ? record : undefined;
  }

  /**
   * Waits once for a live lease held by another coordinator to run out (one that died leaves its
   * lease behind for up to the TTL), calling `onWait` first. LEASE_LOST when the holder renewed it
   * meanwhile: that coordinator is alive and driving. CANCELLED when `signal` aborts.
   */
  async waitUntilFree(options: { signal?: AbortSignal; onWait?: (holder: LeaseRecord) => void } = {}): Promise<void> {
    const held = await this.holder();
    if (!held || held.owner === this.owner) return;
    options.onWait?.(held);
    try {
      await sleep(Math.max(0, held.expiresAt - Date.now()) + 100, undefined, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      throw new HoistError("CANCELLED", `stopped waiting for the lease of cluster ${this.cluster}`, { cause: err });
    }
    const now = await this.holder();
    if (now && now.owner !== this.owner) {
      throw new HoistError("LEASE_LOST", `cluster ${this.cluster} is driven by coordinator ${now.owner}, which keeps renewing its lease; follow it with \`hoist rollout status --follow\``);
    }
  }

  /** Takes the lease if it is free or expired; LEASE_LOST naming the holder otherwise. */
  private async read() {
    try {
      return await this.kv.get(this.key);
    } catch (err) {
      throw toBusError(err, `reading the lease of cluster ${this.cluster}`);
    }
  }

  async acquire(now = Date.now()): Promise<void> {
    const entry = await this.read();
    const current = entry && entry.operation === "PUT" && entry.value.length > 0 ? decodeJson<LeaseRecord>(entry.value) : undefined;
    if (current && current.expiresAt > now && current.owner !== this.owner) {
      throw new HoistError("LEASE_LOST", `cluster ${this.cluster} is driven by coordinator ${current.owner} (lease until ${new Date(current.expiresAt).toISOString()})`);
    }
    const next: LeaseRecord = { owner: this.owner, epoch: (current?.epoch ?? 0) + 1, expiresAt: now + this.ttlMs };
    try {
      this.revision = entry ? await this.kv.update(this.key, encodeJson(next), entry.revision) : await this.kv.create(this.key, encodeJson(next));
    } catch (err) {
      const error = toBusError(err, `taking the lease of cluster ${this.cluster}`);
      if (error.code !== "CONFLICT") throw error;
      if (await this.adoptIfOurs(next)) return;
      throw new HoistError("LEASE_LOST", `another coordinator took the lease of cluster ${this.cluster} first`, { cause: err });
    }
    this.record = next;
  }

  /**
   * After a lost compare-and-set: true (and the stored revision adopted) when the stored record is
   * `mine` — our own earlier write landed although its answer was lost.
   */
  private async adoptIfOurs(mine: LeaseRecord): Promise<boolean> {
    const entry = await this.read();
    if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return false;
    const stored = decodeJson<LeaseRecord>(entry.value);
    if (stored.owner !== mine.owner || stored.epoch !== mine.epoch || stored.expiresAt === 0) return false;
    this.revision = entry.revision;
    this.record = stored;
    return true;
  }

  /**
   * Extends the lease; LEASE_LOST when someone else changed it (we were fenced out); TIMEOUT or
   * UNAVAILABLE (retryable, lease still held) when NATS did not answer. Calls made at the same time
   * (the renewal loop, saves of step results arriving together) are serialised.
   */
  renew(now = Date.now()): Promise<void> {
    return this.serialise(() => this.renewNow(now));
  }

  private async renewNow(now: number): Promise<void> {
    if (!this.record) throw new HoistError("LEASE_LOST", `coordinator ${this.owner} does not hold the lease of cluster ${this.cluster} (never acquired, or lost)`);
    const next = { ...this.record, expiresAt: now + this.ttlMs };
    try {
      this.revision = await this.kv.update(this.key, encodeJson(next), this.revision);
      this.record = next;
    } catch (err) {
      const error = toBusError(err, `renewing the lease of cluster ${this.cluster}`);
      if (error.code !== "CONFLICT") throw error;
      if (await this.adoptIfOurs(this.record)) return this.renewNow(now);
      this.record = undefined;
      throw new HoistError("LEASE_LOST", `coordinator ${this.owner} lost the lease of cluster ${this.cluster}: another coordinator holds it now`, { cause: err });
    }
  }

  /** Gives the lease up (expires it at once) if we still hold it. */
  release(): Promise<void> {
    return this.serialise(() => this.releaseNow());
  }

  private async releaseNow(): Promise<void> {
    if (!this.record) return;
    try {
      await this.kv.update(this.key, encodeJson({ ...this.record, expiresAt: 0 }), this.revision);
    } catch {
      // someone else holds it now: nothing of ours to release
    }
    this.record = undefined;
  }

  private serialise(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
