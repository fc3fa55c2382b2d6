import { randomUUID } from "node:crypto";
import type { JournalHop, JournalRecord } from "./journal-record.ts";

export interface NewJournalInput {
  kind: JournalRecord["kind"];
  service: string;
  previousVersion?: string;
  target: string;
  hops: JournalHop[];
  key?: string;
  skipDrain?: boolean;
  skipMigrations?: string[];
  snapshotBefore?: JournalRecord["snapshotBefore"];
  /** The service validates new releases on scratch data first. */
  validate?: boolean;
  /** The service has a reload hook (a lone patch hop runs as a patch). */
  canReload?: boolean;
}

/** A fresh journal record for an operation about to start (pure). */
export function newJournal(input: NewJournalInput, now = new Date()): JournalRecord {
  return {
    formatVersion: 1,
    id: randomUUID(),
    ...(input.key === undefined ? {} : { key: input.key }),
    kind: input.kind,
    service: input.service,
    ...(input.previousVersion === undefined ? {} : { previousVersion: input.previousVersion }),
    target: input.target,
    hops: input.hops,
    skipDrain: input.skipDrain ?? false,
    skipMigrations: input.skipMigrations ?? [],
    ...(input.snapshotBefore === undefined ? {} : { snapshotBefore: input.snapshotBefore }),
    ...(input.kind === "upgrade" && input.previousVersion !== undefined && input.hops.some((hop) => hop.migrations.some((migration) => migration.when === "before-stop")) ? { onlineMigrations: true } : {}),
    ...(input.kind === "upgrade" && input.validate && input.previousVersion !== undefined ? { validate: true } : {}),
    ...(input.kind === "upgrade" && input.canReload && input.previousVersion !== undefined && input.hops.length === 1 && input.hops[0]!.kind === "patch" ? { patch: true } : {}),
    step: input.kind === "upgrade" ? "stage" : "rb-stop",
    stepStatus: "started",
    drained: false,
    stopped: input.kind === "rollback",
    migrationsDone: [],
    resumes: 0,
    startedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    history: [],
  };
}
