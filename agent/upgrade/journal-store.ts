import { mkdir, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readJsonIfExists, writeJsonAtomic, fsyncDir } from "../../shared/fs/index.ts";
import type { UpgradeOutcome } from "../node-agent-api.ts";
import type { ServicePaths } from "../services/service-paths.ts";
import type { JournalRecord } from "./journal-record.ts";

/**
 * Persists one service's journal and recorded outcomes. Every write is temp + fsync + rename, so an
 * agent killed at any moment finds either the previous record or the new one.
 */
export class JournalStore {
  constructor(private readonly paths: ServicePaths) {}

  async load(): Promise<JournalRecord | undefined> {
    return readJsonIfExists<JournalRecord>(this.paths.journal);
  }

  async save(record: JournalRecord): Promise<void> {
    await mkdir(this.paths.root, { recursive: true });
    await writeJsonAtomic(this.paths.journal, record);
  }

  /** Removes the journal once its outcome is recorded: no operation is in flight any more. */
  async clear(): Promise<void> {
    await rm(this.paths.journal, { force: true });
    await fsyncDir(this.paths.root).catch(() => undefined);
  }

  /** Records the outcome as the last result and, when the request had one, under its idempotency key. */
  async recordOutcome(outcome: UpgradeOutcome, key: string | undefined): Promise<void> {
    await mkdir(this.paths.results, { recursive: true });
    if (key !== undefined) await writeJsonAtomic(this.resultPath(key), { key, outcome });
    await writeJsonAtomic(this.paths.lastResult, outcome);
  }

  async outcomeForKey(key: string): Promise<UpgradeOutcome | undefined> {
    const stored = await readJsonIfExists<{ key: string; outcome: UpgradeOutcome }>(this.resultPath(key));
    return stored?.key === key ? stored.outcome : undefined;
  }

  async lastOutcome(): Promise<UpgradeOutcome | undefined> {
    return readJsonIfExists<UpgradeOutcome>(this.paths.lastResult);
  }

  private resultPath(key: string): string {
    return join(this.paths.results, `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.json`);
  }
}
