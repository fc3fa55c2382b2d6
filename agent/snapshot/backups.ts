import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HoistError } from "../../shared/errors/index.ts";
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import { runHook, type HookContext } from "../exec/index.ts";
import { checkDatabaseDump, dumpDatabase, restoreDatabase, type DatabaseRunContext, type DatabaseSpec, type TableRowCounts } from "../database/index.ts";
import { PARTIAL_SUFFIX, snapshotDir } from "./paths.ts";

/** A backup command of a service (see `backups:` in the agent config). */
export interface BackupSpec {
  name: string;
  run: readonly string[];
  restore?: readonly string[];
  restoreWhen: "running" | "stopped";
  timeoutMs: number;
  user?: string;
}

/** What a snapshot takes beside its data dirs: backup commands and database dumps (a service config fits). */
export interface SnapshotExtras {
  backups: readonly BackupSpec[];
  databases: readonly DatabaseSpec[];
}

/** How each backup command or database tool runs (cwd, env, tracker, user), by the backup's or database's name. */
export type BackupContext = (item: { name: string }) => HookContext;

/** One backup file kept inside a snapshot: a backup command's file, or a database dump. */
export interface BackupRecord {
  name: string;
  /** Relative to the snapshot dir: backups/NAME, or backups/db-NAME.dump for a database. */
  file: string;
  sha256: string;
  bytes: number;
  takenAt: string;
  /** Set for a database dump: what it holds, and its exact rows per table when it was taken. */
  database?: { engine: DatabaseSpec["engine"]; database: string; tables: TableRowCounts };
}

const BACKUPS_DIR = "backups";
const BACKUPS_INDEX = "backups.json";

/** Replaces `{file}` in every argument (there is no shell to expand $HOIST_BACKUP_FILE). */
function withFile(argv: readonly string[], file: string): string[] {
  return argv.map((arg) => arg.replaceAll("{file}", file));
}

/**
 * Runs every backup command (while the service still runs) and dumps every database, each into a
 * fresh dir under `snapshotsDir`; returns that dir and the records (sha256 and size of each file,
 * rows per table of each database). Call `attachBackups` once the snapshot exists.
 * @throws HoistError HOOK_FAILED when a command or database tool fails or a command writes no file.
 */
export async function takeBackups(extras: SnapshotExtras, snapshotsDir: string, ctx: BackupContext): Promise<{ dir: string; records: BackupRecord[] }> {
  // A crash leaves a .partial dir, which the next prune removes.
  const dir = join(snapshotsDir, `backups-${randomBytes(6).toString("hex")}${PARTIAL_SUFFIX}`);
  await mkdir(dir, { recursive: true });
  const records: BackupRecord[] = [];
  try {
    for (const spec of extras.backups) {
      const file = join(dir, spec.name);
      const hookCtx = ctx(spec);
      await runHook(`backup ${spec.name}`, { run: withFile(spec.run, file), timeoutMs: spec.timeoutMs, ...(spec.user ? { user: spec.user } : {}) }, { ...hookCtx, env: { ...hookCtx.env, HOIST_BACKUP_FILE: file } });
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw new HoistError("HOOK_FAILED", `backup ${spec.name} (${spec.run.join(" ")}) exited 0 but wrote no file at ${file}; write the backup to {file} / $HOIST_BACKUP_FILE`);
      records.push({ name: spec.name, file: `${BACKUPS_DIR}/${spec.name}`, sha256: await sha256Of(file), bytes: info.size, takenAt: new Date().toISOString() });
    }
    for (const spec of extras.databases) {
      const name = databaseFile(spec.name);
      const file = join(dir, name);
      const tables = await dumpDatabase(spec, file, databaseRun(ctx({ name: `database ${spec.name}` })));
      const info = await stat(file);
      records.push({ name: spec.name, file: `${BACKUPS_DIR}/${name}`, sha256: await sha256Of(file), bytes: info.size, takenAt: new Date().toISOString(), database: { engine: spec.engine, database: spec.database, tables } });
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, records };
}

/** The file of a database's dump inside backups/ (a backup command's file is backups/NAME). */
export function databaseFile(name: string): string {
  return `db-${name}.dump`;
}

/** Database tools get the signal and tracker of the hook context, not its user or env: they connect with the database's own settings. */
function databaseRun(hookCtx: HookContext): DatabaseRunContext {
  return { ...(hookCtx.signal ? { signal: hookCtx.signal } : {}), ...(hookCtx.tracker ? { tracker: hookCtx.tracker } : {}) };
}

/** Moves the backups taken by `takeBackups` into the snapshot (backups/ and backups.json). */
export async function attachBackups(snapshotsDir: string, id: string, taken: { dir: string; records: BackupRecord[] }): Promise<void> {
  const target = snapshotDir(snapshotsDir, id);
  await rename(taken.dir, join(target, BACKUPS_DIR));
  await writeJsonAtomic(join(target, BACKUPS_INDEX), { formatVersion: 1, backups: taken.records });
  await fsyncDir(target);
}

/** The backups kept in a snapshot (none for snapshots taken without backup commands). */
export async function readBackups(snapshotsDir: string, id: string): Promise<BackupRecord[]> {
  const index = await readJsonIfExists<{ backups: BackupRecord[] }>(join(snapshotDir(snapshotsDir, id), BACKUPS_INDEX));
  return index?.backups ?? [];
}

/**
 * Checks every backup file of a snapshot against its recorded sha256 and size, and that every
 * database dump is readable by its engine's tools (`pg_restore --list`; a complete mariadb-dump file).
 * @throws HoistError SNAPSHOT_CORRUPT naming the first file that differs, is missing or is unreadable.
 */
export async function verifyBackups(snapshotsDir: string, id: string, ctx: DatabaseRunContext = {}): Promise<BackupRecord[]> {
  const records = await readBackups(snapshotsDir, id);
  for (const record of records) {
    const path = join(snapshotDir(snapshotsDir, id), record.file);
    const info = await stat(path).catch(() => undefined);
    const sha256 = info?.isFile() ? await sha256Of(path) : undefined;
    if (!info || info.size !== record.bytes || sha256 !== record.sha256) {
      throw new HoistError(
        "SNAPSHOT_CORRUPT",
        `backup ${record.name} of snapshot ${id} does not match what was taken (${info ? `sha256 ${sha256}, ${info.size} bytes` : "missing"}; expected sha256 ${record.sha256}, ${record.bytes} bytes)`,
        {
          details: { snapshot: id, backup: record.name },
        },
      );
    }
    if (record.database) await checkDatabaseDump(record.database.engine, record.name, path, snapshotDir(snapshotsDir, id), ctx);
  }
  return records;
}

/**
 * Runs the restore command of every backup of the snapshot whose `restoreWhen` is `when` (backups
 * whose spec is gone from the config, or has no restore command, are skipped and returned), and
 * with `when: stopped` restores every database (dropped and recreated from its dump, then its rows
 * per table checked against the recorded counts). Databases gone from the config are skipped.
 * @throws HoistError SNAPSHOT_CORRUPT (a file differs, or a restored database's rows do not match), HOOK_FAILED.
 */
export async function restoreBackups(extras: SnapshotExtras, snapshotsDir: string, id: string, when: "running" | "stopped", ctx: BackupContext): Promise<{ restored: string[]; skipped: string[] }> {
  const restored: string[] = [];
  const skipped: string[] = [];
  for (const record of await verifyBackups(snapshotsDir, id, databaseRun(ctx({ name: "verify" })))) {
    const file = join(snapshotDir(snapshotsDir, id), record.file);
    if (record.database) {
      const database = extras.databases.find((candidate) => candidate.name === record.name);
      if (!database) {
        skipped.push(`database ${record.name}`);
        continue;
      }
      if (when !== "stopped") continue;
      await restoreDatabase(database, file, record.database.tables, databaseRun(ctx({ name: `restore of database ${database.name}` })));
      restored.push(`database ${database.name}`);
      continue;
    }
    const spec = extras.backups.find((candidate) => candidate.name === record.name);
    if (!spec?.restore) {
      skipped.push(record.name);
      continue;
    }
    if (spec.restoreWhen !== when) continue;
    const hookCtx = ctx(spec);
    await runHook(`restore of backup ${spec.name}`, { run: withFile(spec.restore, file), timeoutMs: spec.timeoutMs, ...(spec.user ? { user: spec.user } : {}) }, { ...hookCtx, env: { ...hookCtx.env, HOIST_BACKUP_FILE: file } });
    restored.push(spec.name);
  }
  return { restored, skipped };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}
