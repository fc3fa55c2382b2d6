import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { KV, KvEntry } from "nats";
import { throwIfAborted } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { decodeJson, encodeJson, kvToken } from "../../shared/bus/index.ts";
import { decideLock, type MigrationRecord } from "./cluster-once-lock.ts";
import { toKvError, withKvRetry, type KvRetryOptions } from "./kv-retry.ts";
import { type ClusterOnceGate } from "../upgrade/index.ts";

export interface ClusterOnceGateOptions {
  logger?: Logger;
  /** Lease of a running record: renewed every leaseMs/4; a record unchanged this long is dead (default 20 s). */
  leaseMs?: number;
  /** Random id of this agent process (default: a new UUID); tests may fix it. */
  incarnation?: string;
  /** How often a waiting node looks at the record again (default 500 ms). */
  pollMs?: number;
}

/**
 * `cluster-once` migrations on NATS KV (bucket hoist_migrations). The first node creates the record
 * (create fails if it exists, so only one wins) with its node name and incarnation, renews it while
 * the migration runs, and marks it done; the others wait while it is renewed and skip once it is
 * done. A failed record, one whose holder stopped renewing, or one left by an earlier process of this
 * same node is taken over by revision (compare-and-set), so exactly one node takes it over.
 *
 * While NATS is unreachable every read and write is retried with back-off (bounded by the step's
 * signal): an outage never fails the migration. Once the migration ran, the `done` write is retried
 * until it lands, whatever the step's signal says.
 */
export class KvClusterOnceGate implements ClusterOnceGate {
  readonly incarnation: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly retry: KvRetryOptions;
  /** Keys whose migration runs in this process now. */
  private readonly runningHere = new Set<string>();

  constructor(
    private readonly kv: KV,
    private readonly cluster: string,
    private readonly node: string,
    private readonly options: ClusterOnceGateOptions = {},
  ) {
    this.incarnation = options.incarnation ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 20_000;
    this.pollMs = options.pollMs ?? 500;
    this.retry = options.logger ? { logger: options.logger } : {};
  }

  async runOnce(id: { service: string; version: string; migration: string }, run: () => Promise<void>, signal: AbortSignal): Promise<"ran" | "skipped"> {
    const key = [this.cluster, kvToken(id.service), kvToken(id.version), kvToken(id.migration)].join(".");
    const what = `cluster lock of ${id.migration} (${id.service} ${id.version})`;
    let seen: { revision: number; since: number } | undefined;
    for (;;) {
      throwIfAborted(signal);
      // After an outage, what was seen before it says nothing about the holder's liveness: forget it.
      const entry: KvEntry | null = await withKvRetry(`read the ${what}`, () => this.kv.get(key), { ...this.retry, onRetry: () => (seen = undefined) }, { signal });
      const record = entry && entry.operation === "PUT" && entry.value.length > 0 ? decodeJson<MigrationRecord>(entry.value) : undefined;
      const now = Date.now();
      if (entry && seen?.revision !== entry.revision) seen = { revision: entry.revision, since: now };
      const decision = decideLock(record, {
        node: this.node,
        incarnation: this.incarnation,
        runningHere: this.runningHere.has(key),
        now,
        unchangedForMs: entry && seen ? now - seen.since : undefined,
      });
      if (decision === "skip") return "skipped";
      if (decision === "wait") {
        await sleep(this.pollMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      const revision = await this.acquire(key, what, entry && record ? entry.revision : undefined, signal);
      if (revision === undefined) {
        seen = undefined;
        continue;
      }
      if (record?.status === "running") this.options.logger?.warn({ key, holder: record.node, incarnation: record.incarnation }, `took over the ${what} from a holder that is gone`);
      return this.runHeld(key, what, revision, run);
    }
  }

  private record(status: MigrationRecord["status"], error?: string): MigrationRecord {
    const now = Date.now();
    return { status, node: this.node, incarnation: this.incarnation, at: new Date(now).toISOString(), leaseMs: this.leaseMs, expiresAt: now + this.leaseMs, ...(error === undefined ? {} : { error }) };
  }

  /** Creates the record, or takes it over at `previous`; the new revision, or undefined when another node won. */
  private async acquire(key: string, what: string, previous: number | undefined, signal: AbortSignal): Promise<number | undefined> {
    const value = encodeJson(this.record("running"));
    try {
      return await withKvRetry(`take the ${what}`, () => (previous === undefined ? this.kv.create(key, value) : this.kv.update(key, value, previous)), this.retry, { signal });
    } catch (err) {
      if (toKvError(err, `take the ${what}`).code === "CONFLICT") return undefined;
      throw err;
    }
  }

  /** Runs the migration holding the lock: renews it meanwhile, then records done (until it lands) or failed. */
  private async runHeld(key: string, what: string, acquired: number, run: () => Promise<void>): Promise<"ran"> {
    this.runningHere.add(key);
    const renewal = this.renewWhileRunning(key, what, acquired);
    try {
      await run();
    } catch (err) {
      await renewal.stop();
      // Best effort within one lease: if it does not land, the record stops being renewed and is taken over as dead.
      await withKvRetry(`record the failure of the ${what}`, () => this.kv.put(key, encodeJson(this.record("failed", (err as Error).message))), { ...this.retry, budgetMs: this.leaseMs }).catch((writeErr: unknown) =>
        this.options.logger?.warn({ err: writeErr, key }, "could not record the failed migration; its lock lapses"),
      );
      throw err;
    } finally {
      this.runningHere.delete(key);
    }
    await renewal.stop();
    // The migration ran: this must land, or the cluster would run it again.
    await withKvRetry(`record the ${what} as done`, () => this.kv.put(key, encodeJson(this.record("done"))), this.retry);
    return "ran";
  }

  /** Renews the record every leaseMs/4 by compare-and-set; a failed renewal is tried again at the next beat. */
  private renewWhileRunning(key: string, what: string, acquired: number): { stop(): Promise<void> } {
    let revision = acquired;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let beat: Promise<void> = Promise.resolve();
    const schedule = () => {
      timer = setTimeout(
        () => {
          beat = (async () => {
            try {
              revision = await this.kv.update(key, encodeJson(this.record("running")), revision);
            } catch (err) {
              if (toKvError(err, `renew the ${what}`).code === "CONFLICT") {
                this.options.logger?.error({ key }, `the ${what} was taken over while its migration still runs here (no renewal for a whole lease); stopped renewing`);
                stopped = true;
              } else {
                this.options.logger?.warn({ err, key }, `could not renew the ${what}; trying again`);
              }
            }
            if (!stopped) schedule();
          })();
        },
        Math.max(100, Math.floor(this.leaseMs / 4)),
      );
      timer.unref();
    };
    schedule();
    return {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await beat;
      },
    };
  }
}
