import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HoistError } from "../../shared/errors/index.ts";
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import { runHook, type HookContext } from "../exec/index.ts";
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

/** One backup file kept inside a snapshot. */
export interface BackupRecord {
  name: string;
  /** Relative to the snapshot dir: backups/NAME. */
  file: string;
  sha256: string;
  bytes: number;
  takenAt: string;
}

const BACKUPS_DIR = "backups";
const BACKUPS_INDEX = "backups.json";

/** Replaces `{file}` in every argument (there is no shell to expand $HOIST_BACKUP_FILE). */
function withFile(argv: readonly string[], file: string): string[] {
  return argv.map((arg) => arg.replaceAll("{file}", file));
}

/**
 * Runs every backup command while the service still runs, each writing its file into a fresh dir
 * under `snapshotsDir`; returns that dir and the records (sha256 and size of each file). Call
 * `attachBackups` once the snapshot exists.
 * @throws HoistError HOOK_FAILED when a command fails or writes no file.
 */
export async function takeBackups(specs: readonly BackupSpec[], snapshotsDir: string, ctx: (spec: BackupSpec) => HookContext): Promise<{ dir: string; records: BackupRecord[] }> {
  // A crash leaves a .partial dir, which the next prune removes.
  const dir = join(snapshotsDir, `backups-${randomBytes(6).toString("hex")}${PARTIAL_SUFFIX}`);
  await mkdir(dir, { recursive: true });
  const records: BackupRecord[] = [];
  try {
    for (const spec of specs) {
      const file = join(dir, spec.name);
      const hookCtx = ctx(spec);
      await runHook(`backup ${spec.name}`, { run: withFile(spec.run, file), timeoutMs: spec.timeoutMs, ...(spec.user ? { user: spec.user } : {}) }, { ...hookCtx, env: { ...hookCtx.env, HOIST_BACKUP_FILE: file } });
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw new HoistError("HOOK_FAILED", `backup ${spec.name} (${spec.run.join(" ")}) exited 0 but wrote no file at ${file}; write the backup to {file} / $HOIST_BACKUP_FILE`);
      records.push({ name: spec.name, file: `${BACKUPS_DIR}/${spec.name}`, sha256: await sha256Of(file), bytes: info.size, takenAt: new Date().toISOString() });
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, records };
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
 * Checks every backup file of a snapshot against its recorded sha256 and size.
 * @throws HoistError SNAPSHOT_CORRUPT naming the first file that differs or is missing.
 */
export async function verifyBackups(snapshotsDir: string, id: string): Promise<BackupRecord[]> {
  const records = await readBackups(snapshotsDir, id);
  for (const record of records) {
    const path = join(snapshotDir(snapshotsDir, id), record.file);
    const info = await stat(path).catch(() => undefined);
    const sha256 = info?.isFile() ? await sha256Of(path) : undefined;
    if (!info || info.size !== record.bytes || sha256 !== record.sha256) {
      throw new HoistError("SNAPSHOT_CORRUPT", `backup ${record.name} of snapshot ${id} does not match what was taken (${info ? `sha256 ${sha256}, ${info.size} bytes` : "missing"}; expected sha256 ${record.sha256}, ${record.bytes} bytes)`, {
        details: { snapshot: id, backup: record.name },
      });
    }
  }
  return records;
}

/**
 * Runs the restore command of every backup of the snapshot whose `restoreWhen` is `when` (backups
 * whose spec is gone from the config, or has no restore command, are skipped and returned).
 */
export async function restoreBackups(specs: readonly BackupSpec[], snapshotsDir: string, id: string, when: "running" | "stopped", ctx: (spec: BackupSpec) => HookContext): Promise<{ restored: string[]; skipped: string[] }> {
  const restored: string[] = [];
  const skipped: string[] = [];
  for (const record of await verifyBackups(snapshotsDir, id)) {
    const spec = specs.find((candidate) => candidate.name === record.name);
    if (!spec?.restore) {
      skipped.push(record.name);
      continue;
    }
    if (spec.restoreWhen !== when) continue;
    const file = join(snapshotDir(snapshotsDir, id), record.file);
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
