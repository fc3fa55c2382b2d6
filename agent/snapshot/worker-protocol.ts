import type { SnapshotEntry } from "./manifest.ts";

/**
 * Messages between the main thread and the snapshot worker. The worker does the per-file work
 * with synchronous fs calls (several times faster than async calls for many small files, and
 * harmless there because it blocks only the worker); the main thread hashes and writes or reads
 * the archive. Chunks flow under a credit window so that memory stays bounded.
 */
export type ToWorker =
  | { op: "scan"; job: number; root: string }
  | { op: "pack"; job: number; root: string }
  | { op: "unpack"; job: number; mode: "verify" | "extract"; target?: string; entries: SnapshotEntry[]; chown: boolean; label: string }
  | { op: "chunk"; job: number; buffer: ArrayBuffer; length: number }
  | { op: "end"; job: number }
  | { op: "credit"; job: number }
  | { op: "cancel"; job: number };

export interface ScanResult {
  missing: boolean;
  entries: number;
  files: number;
  bytes: number;
}

export interface PackResult {
  entries: SnapshotEntry[];
}

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { type: "result"; job: number; result: unknown }
  | { type: "chunk"; job: number; buffer: ArrayBuffer; length: number; bytesDone: number }
  | { type: "credit"; job: number; bytesDone: number }
  | { type: "error"; job: number; error: WireError };

/** Bytes of one chunk handed between the threads. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Chunks in flight at most, each way. */
export const CREDITS = 4;
