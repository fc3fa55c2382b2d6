import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm, stat, truncate } from "node:fs/promises";
import type { ObjectInfo } from "nats";
import * as z from "zod";
import { readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";

/**
 * How far an interrupted object-store download got, saved beside the partial file
 * (`<sha256>.object-partial.json`): the first `bytes` bytes of the partial file are the object's
 * first chunks, and the next chunk is the first message on the object's chunk subject at or after
 * stream sequence `nextSeq`. `nuid` names the chunk set; a re-put object has another and starts over.
 */
export const objectResumeStateSchema = z.object({
  nuid: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  chunks: z.number().int().nonnegative(),
  nextSeq: z.number().int().positive(),
});
export type ObjectResumeState = z.output<typeof objectResumeStateSchema>;

/** A download's running sha256 with the byte count it covers (kept in memory between attempts of one process). */
export interface RunningDigest {
  nuid: string;
  bytes: number;
  hash: Hash;
}

/** Where a download starts: from nothing, or from a partial file whose digest so far is known. */
export interface ResumePoint {
  state: ObjectResumeState;
  hash: Hash;
  /** Bytes of the partial file read back to rebuild the digest (0 when the running digest was kept). */
  rehashedBytes: number;
}

export function resumeStatePath(partialPath: string): string {
  return `${partialPath}.json`;
}

/** Saves the resume state crash-safely (the partial file's bytes must be fsynced first). */
export async function saveResumeState(partialPath: string, state: ObjectResumeState): Promise<void> {
  await writeJsonAtomic(resumeStatePath(partialPath), state);
}

export async function dropPartial(partialPath: string): Promise<void> {
  await rm(resumeStatePath(partialPath), { force: true });
  await rm(partialPath, { force: true });
}

/**
 * Where a download of `object` resumes: the saved state when it is well-formed, names this chunk
 * set, stays within the object, and the partial file holds at least its bytes (the file is cut back
 * to them: bytes written after the last checkpoint are fetched again), with the running digest when
 * `kept` covers exactly those bytes, else a digest rebuilt from the file. Anything else starts from
 * zero (and drops the partial).
 */
export async function findResumePoint(partialPath: string, object: Pick<ObjectInfo, "nuid" | "size" | "chunks">, kept: RunningDigest | undefined): Promise<ResumePoint> {
  const { nuid } = object;
  const fresh = (): ResumePoint => ({ state: { nuid, bytes: 0, chunks: 0, nextSeq: 1 }, hash: createHash("sha256"), rehashedBytes: 0 });
  const saved = objectResumeStateSchema.safeParse(await readJsonIfExists(resumeStatePath(partialPath)).catch(() => undefined));
  const state = saved.success ? saved.data : undefined;
  const size = (await stat(partialPath).catch(() => undefined))?.size;
  if (!state || state.nuid !== nuid || state.bytes > object.size || state.chunks > object.chunks || size === undefined || size < state.bytes) {
    await dropPartial(partialPath);
    return fresh();
  }
  if (size > state.bytes) await truncate(partialPath, state.bytes);
  if (kept && kept.nuid === nuid && kept.bytes === state.bytes) return { state, hash: kept.hash, rehashedBytes: 0 };
  const hash = createHash("sha256");
  if (state.bytes > 0) {
    for await (const chunk of createReadStream(partialPath, { end: state.bytes - 1 })) hash.update(chunk as Buffer);
  }
  return { state, hash, rehashedBytes: state.bytes };
}
