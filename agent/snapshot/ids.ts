import { randomBytes } from "node:crypto";
import { HoistError } from "../../shared/errors/index.ts";

/** `20261121T221500.123Z-a1b2`: UTC time to the millisecond, then 4 random hex digits. Sorts by time. */
const ID_PATTERN = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/;

let lastMs = 0;

/**
 * A new snapshot id. Ids made by one process are strictly increasing even within one millisecond
 * (the clock part is bumped), so "newest first" is the reverse id order.
 */
export function makeSnapshotId(now: Date = new Date()): string {
  let ms = now.getTime();
  if (ms <= lastMs) ms = lastMs + 1;
  lastMs = ms;
  const iso = new Date(ms).toISOString(); // 2026-11-21T22:15:00.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 23)}Z`;
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

/** True for a well-formed snapshot id (also what keeps ids from naming paths outside snapshotsDir). */
export function isSnapshotId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** Throws INVALID_ARGUMENT unless `id` is a well-formed snapshot id. */
export function assertSnapshotId(id: string): void {
  if (!isSnapshotId(id)) {
    throw new HoistError("INVALID_ARGUMENT", `${JSON.stringify(id)} is not a snapshot id (expected like 20261121T221500.123Z-a1b2)`, {
      details: { id },
    });
  }
}
