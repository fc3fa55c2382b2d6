import type { WireEntries } from "./wire-entries.ts";
import type { PackLayout } from "./pack.ts";

/**
 * Messages between the main thread and the snapshot worker.
 *
 * Division of work, chosen by measurement (bench/README.md): the worker does the per-file system
 * calls with synchronous fs (several times faster than async calls for many small files, and
 * harmless there because it blocks only the worker): walk, open/read/close when packing,
 * mkdir/open/write/chmod/utimes when extracting, and the archive file write of a plain tar. The
 * main thread does the hashing (sha256 of every file and of the archive) and gzip. Chunks live in
 * a pool of shared memory slots, so a chunk is never copied between the threads; a slot returns to
 * its producer with a credit message once its consumer is done with it.
 */
export type ToWorker =
  | { op: "scan"; job: number; root: string; tolerant?: boolean }
  /**
   * archive: path of a plain tar the worker writes itself (the main thread then only hashes).
   * tolerant: the service may be running (see PackOptions). keep: remember the walk and layout for a `delta`.
   */
  | { op: "pack"; job: number; root: string; archive?: string; tolerant?: boolean; keep?: boolean }
  /**
   * Second phase of a two-phase snapshot of `root`, packed before with keep: walks it again, retires
   * and rewrites entries in `archive` in place and appends what changed (chunks as for pack).
   * Answers DeltaResult; `fallback` (nothing written) when more than maxAppendBytes would be appended.
   */
  | { op: "delta"; job: number; root: string; archive: string; startedMs: number; maxAppendBytes: number }
  /** Forget a kept first phase. */
  | { op: "drop"; job: number; root: string }
  | { op: "unpack"; job: number; mode: "verify" | "extract"; target?: string; entries: WireEntries; chown: boolean; label: string; hashParity?: 0 | 1 }
  | { op: "chunk"; job: number; slot: number; length: number }
  | { op: "end"; job: number }
  | { op: "credit"; job: number; slot: number }
  | { op: "cancel"; job: number }
  /** Between operations: forget cached walks. */
  | { op: "reset"; job: number };

export interface ScanResult {
  missing: boolean;
  entries: number;
  files: number;
  bytes: number;
}

/** Entries of a packed data dir (file entries get their sha256 from the main thread) and where they sit. */
export interface PackResult {
  entries: WireEntries;
  layout: PackLayout;
}

export type DeltaResult =
  | { fallback: true; reason: string }
  | {
      fallback?: false;
      /** First-phase entry indexes retired in the archive. */
      retired: number[];
      /** First-phase dirs whose header was rewritten, with their new mode. */
      rewritten: { index: number; mode: number }[];
      /** Entries appended (file sha256 from the main thread) and where. */
      appended: WireEntries;
      layout: PackLayout;
      /** Archive offset where the appended entries start (the old end-of-archive marker). */
      appendStart: number;
      archiveBytes: number;
    };

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { type: "result"; job: number; result: unknown }
  /**
   * A packed chunk. `segments` are file contents inside it as flat quadruples
   * [entry index, start, end, last (1 when the file ends in this chunk)].
   */
  | { type: "chunk"; job: number; slot: number; length: number; segments: number[]; bytesDone: number }
  /** An unpack chunk is done with; `segments`: contents of the files handed off to the main thread (hashParity), as in "chunk". */
  | { type: "credit"; job: number; slot: number; bytesDone: number; segments?: number[] }
  | { type: "error"; job: number; error: WireError };

/** Bytes of one chunk slot. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Shared slots per worker: chunks in flight at most. */
export const SLOTS = 6;
