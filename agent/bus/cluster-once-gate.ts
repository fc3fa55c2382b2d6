import { setTimeout as sleep } from "node:timers/promises";
import type { KV } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import { decodeJson, encodeJson, kvToken } from "../../shared/bus/index.ts";
import type { ClusterOnceGate } from "../upgrade/step-context.ts";

interface MigrationRecord {
  status: "running" | "done" | "failed";
  node: string;
  at: string;
  /** A running record older than this is taken over (its node died). */
  expiresAt: number;
  error?: string;
}

/**
 * `cluster-once` migrations on NATS KV (bucket hoist_migrations): the first node creates the record
 * (create fails if it exists, so only one wins), runs the migration and marks it done; the others wait
 * while it runs and skip once it is done. A failed or expired record may be taken over by revision.
 */
export class KvClusterOnceGate implements ClusterOnceGate {
  constructor(
    private readonly kv: KV,
    private readonly cluster: string,
    private readonly node: string,
    private readonly leaseMs = 15 * 60_000,
  ) {}

  async runOnce(id: { service: string; version: string; migration: string }, run: () => Promise<void>, signal: AbortSignal): Promise<"ran" | "skipped"> {
    const key = [this.cluster, kvToken(id.service), kvToken(id.version), kvToken(id.migration)].join(".");
    for (;;) {
      if (signal.aborted) throw new HoistError("CANCELLED", `cancelled while waiting for the cluster lock of ${id.migration}`);
      const entry = await this.kv.get(key);
      const record = entry && entry.operation === "PUT" && entry.value.length > 0 ? decodeJson<MigrationRecord>(entry.value) : undefined;
      if (record?.status === "done") return "skipped";
      if (record?.status === "running" && record.expiresAt > Date.now()) {
        await sleep(250, undefined, { signal }).catch(() => undefined);
        continue;
      }
      const mine: MigrationRecord = { status: "running", node: this.node, at: new Date().toISOString(), expiresAt: Date.now() + this.leaseMs };
      try {
        if (entry && record) await this.kv.update(key, encodeJson(mine), entry.revision);
        else await this.kv.create(key, encodeJson(mine));
      } catch {
        continue;
      }
      try {
        await run();
      } catch (err) {
        await this.kv.put(key, encodeJson({ ...mine, status: "failed", error: (err as Error).message } satisfies MigrationRecord));
        throw err;
      }
      await this.kv.put(key, encodeJson({ ...mine, status: "done", at: new Date().toISOString() } satisfies MigrationRecord));
      return "ran";
    }
  }
}
