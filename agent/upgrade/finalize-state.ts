import { readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import type { JournalHop } from "./journal-record.ts";

/** A committed upgrade that ran permanent migrations and waits for `hoist finalize`. */
export interface PendingFinalize {
  /** The first release of the upgrade whose migrations are permanent. */
  release: string;
  /** The release that ran before the upgrade: kept on disk until finalized. */
  before: string;
  /** The snapshot taken before the upgrade: kept until finalized. */
  snapshotId: string;
  /** The permanent migrations, as `VERSION:name`. */
  migrations: string[];
  since: string;
}

export interface FinalizedUpgrade {
  release: string;
  before: string;
  at: string;
}

/**
 * What `finalize.json` of a service holds: upgrades waiting for `hoist finalize` (oldest first), and
 * every release finalized so far (rollback to before one of them is refused).
 */
export interface FinalizeState {
  pending: PendingFinalize[];
  finalized: FinalizedUpgrade[];
}

/** The first hop of `hops` with a permanent migration, and those migrations (pure). */
export function permanentMigrations(hops: readonly JournalHop[]): { release: string; migrations: string[] } | undefined {
  const names = hops.flatMap((hop) => hop.migrations.filter((migration) => migration.permanent).map((migration) => `${hop.to}:${migration.name}`));
  const first = hops.find((hop) => hop.migrations.some((migration) => migration.permanent));
  return first ? { release: first.to, migrations: names } : undefined;
}

/** The finalized release that an undo of an upgrade through `hops` would cross, if any (pure). */
export function finalizedCrossing(state: Pick<FinalizeState, "finalized">, hops: readonly { to: string }[]): FinalizedUpgrade | undefined {
  return state.finalized.find((done) => hops.some((hop) => hop.to === done.release));
}

export async function readFinalizeState(path: string): Promise<FinalizeState> {
  const state = await readJsonIfExists<Partial<FinalizeState>>(path);
  return { pending: state?.pending ?? [], finalized: state?.finalized ?? [] };
}

/** Saved temp + fsync + rename: a crash leaves the old state or the new one. */
export async function writeFinalizeState(path: string, state: FinalizeState): Promise<void> {
  await writeJsonAtomic(path, state);
}

/** After a rollback restored `snapshotId`, the upgrade it undid no longer waits for finalize. */
export async function dropPendingFinalize(path: string, snapshotId: string): Promise<void> {
  const state = await readFinalizeState(path);
  const pending = state.pending.filter((entry) => entry.snapshotId !== snapshotId);
  if (pending.length !== state.pending.length) await writeFinalizeState(path, { ...state, pending });
}
