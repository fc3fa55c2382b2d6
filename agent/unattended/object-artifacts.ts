import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { NatsConnection, ObjectInfo, ObjectStore } from "nats";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import { objectArtifactSha } from "../../shared/unattended/index.ts";
import { directGetNext } from "./direct-get-chunk.ts";
import { dropPartial, findResumePoint, saveResumeState, type ObjectResumeState, type RunningDigest } from "./object-resume-state.ts";

/** Bytes fetched between two checkpoints of a download (fsync of the partial file + resume state). */
const CHECKPOINT_BYTES = 4 * 1024 * 1024;

/** What one fetch did: where the artifact is and how much of it came over the wire this time. */
export interface ObjectFetchResult {
  path: string;
  /** Object bytes read from NATS by this call (0 when the cache already had it). */
  fetchedBytes: number;
  /** Bytes of an earlier, interrupted download this call continued from. */
  resumedFromBytes: number;
  /** Bytes of the partial file read back to rebuild the digest (0 when this process kept it). */
  rehashedBytes: number;
}

export interface ObjectArtifactFetcherOptions {
  store: ObjectStore;
  /** Reads chunks by direct get (the object store stream allows them). */
  nc: NatsConnection;
  /** Bounds each chunk read (default 5 s). */
  chunkTimeoutMs?: number;
  bucket: string;
  cacheDir: string;
  /** Called after each chunk is written (tests interrupt a download here). */
  onChunk?: (progress: { bytes: number; chunks: number; size: number }) => Promise<void> | void;
}

async function hashFile(path: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest("hex");
}

function fetchFailed(sha256: string, err: unknown): HoistError {
  if (err instanceof HoistError) return err;
  return new HoistError("ARTIFACT_FETCH_FAILED", `reading artifact ${sha256} from the object store failed: ${(err as Error).message}`, { cause: err, retryable: true });
}

/**
 * Brings artifacts whose catalog url is `nats-object:SHA256` from the JetStream object store into
 * the agent's artifact cache (`CACHE_DIR/<sha256>.artifact`), where staging finds it and re-checks it.
 *
 * Resumable: the object's chunks are stream messages on `$O.<bucket>.C.<nuid>`; they are read one by
 * one with direct gets (`next_by_subj` from the sequence after the last chunk written), so no consumer
 * is left behind and a download cut by a disconnect (or an agent restart) continues from its partial
 * file (`<sha256>.object-partial`, checkpointed with its state every 4 MiB and when a read fails)
 * instead of starting over. The sha256 is carried along in memory between attempts of one process
 * (read back from the partial file after a restart) and checked before the file is renamed into place.
 */
export class ObjectArtifactFetcher {
  readonly #options: ObjectArtifactFetcherOptions;
  readonly #digests = new Map<string, RunningDigest>();

  constructor(options: ObjectArtifactFetcherOptions) {
    this.#options = options;
  }

  /**
   * Fetches (or resumes fetching) one artifact.
   * @throws HoistError ARTIFACT_FETCH_FAILED (retryable; the partial file is kept) when the object is
   *   missing or a read fails, ARTIFACT_CHECKSUM_MISMATCH when the bytes do not hash to the sha256
   *   (the partial file is dropped, so the next attempt starts over).
   */
  async fetch(url: string, signal?: AbortSignal): Promise<ObjectFetchResult> {
    const sha256 = objectArtifactSha(url);
    if (sha256 === undefined) throw new HoistError("INVALID_ARGUMENT", `${url} is not a nats-object: artifact url`);
    try {
      return await this.#fetch(sha256, signal);
    } catch (err) {
      // The cache dir's own trouble (EACCES, ENOSPC) is the environment's, retried like a read.
      throw fetchFailed(sha256, err);
    }
  }

  async #fetch(sha256: string, signal: AbortSignal | undefined): Promise<ObjectFetchResult> {
    const { cacheDir } = this.#options;
    await mkdir(cacheDir, { recursive: true });
    const finalPath = join(cacheDir, `${sha256}.artifact`);
    if ((await stat(finalPath).catch(() => undefined)) && (await hashFile(finalPath)) === sha256) {
      return { path: finalPath, fetchedBytes: 0, resumedFromBytes: 0, rehashedBytes: 0 };
    }
    const info = await this.#objectInfo(sha256);
    const partialPath = join(cacheDir, `${sha256}.object-partial`);
    const resume = await findResumePoint(partialPath, info, this.#digests.get(sha256));
    const state: ObjectResumeState = { ...resume.state };
    const digest: RunningDigest = { nuid: info.nuid, bytes: state.bytes, hash: resume.hash };
    this.#digests.set(sha256, digest);
    const resumedFromBytes = state.bytes;
    const handle = await open(partialPath, state.bytes > 0 ? "r+" : "w", 0o600);
    try {
      await this.#readChunks(sha256, info, state, digest, handle, partialPath, signal);
      await handle.sync();
    } catch (err) {
      await this.#checkpoint(handle, partialPath, state).catch(() => undefined);
      await handle.close();
      throw fetchFailed(sha256, err);
    }
    await handle.close();
    this.#digests.delete(sha256);
    const actual = digest.hash.digest("hex");
    if (actual !== sha256 || state.bytes !== info.size) {
      await dropPartial(partialPath);
      throw new HoistError("ARTIFACT_CHECKSUM_MISMATCH", `artifact from the object store has sha256 ${actual} (${state.bytes} bytes), expected ${sha256} (${info.size} bytes)`, {
        details: { expected: sha256, actual },
      });
    }
    await rename(partialPath, finalPath);
    await dropPartial(partialPath);
    await fsyncDir(cacheDir);
    return { path: finalPath, fetchedBytes: state.bytes - resumedFromBytes, resumedFromBytes, rehashedBytes: resume.rehashedBytes };
  }

  async #objectInfo(sha256: string): Promise<ObjectInfo> {
    let info: ObjectInfo | null;
    try {
      info = await this.#options.store.info(sha256);
    } catch (err) {
      throw new HoistError("ARTIFACT_FETCH_FAILED", `cannot read artifact ${sha256} from the object store: ${(err as Error).message}`, { cause: err, retryable: true });
    }
    if (!info || info.deleted) {
      throw new HoistError("ARTIFACT_FETCH_FAILED", `artifact ${sha256} is not in the object store; push it with hoist release push --catalog`, { retryable: true });
    }
    if (info.options?.link) throw new HoistError("ARTIFACT_FETCH_FAILED", `artifact ${sha256} is a link in the object store; push the object itself with hoist release push --catalog`, { retryable: true });
    return info;
  }

  /** Reads the chunks after `state` by direct get and appends them, advancing `state` and `digest`. */
  async #readChunks(sha256: string, info: ObjectInfo, state: ObjectResumeState, digest: RunningDigest, handle: FileHandle, partialPath: string, signal?: AbortSignal): Promise<void> {
    const { nc, bucket, onChunk, chunkTimeoutMs = 5_000 } = this.#options;
    const stream = `OBJ_${bucket}`;
    const subject = `$O.${bucket}.C.${info.nuid}`;
    let sinceCheckpoint = 0;
    while (state.chunks < info.chunks) {
      throwIfAborted(signal);
      const message = await directGetNext(nc, stream, subject, state.nextSeq, chunkTimeoutMs);
      if (message.subject !== subject) throw new HoistError("ARTIFACT_FETCH_FAILED", `object store answered chunk ${state.chunks + 1} of ${sha256} with ${message.subject}`, { retryable: true });
      for (let written = 0; written < message.data.length;) written += (await handle.write(message.data, written, message.data.length - written, state.bytes + written)).bytesWritten;
      digest.hash.update(message.data);
      state.bytes += message.data.length;
      state.chunks += 1;
      state.nextSeq = message.seq + 1;
      digest.bytes = state.bytes;
      sinceCheckpoint += message.data.length;
      if (sinceCheckpoint >= CHECKPOINT_BYTES) {
        await this.#checkpoint(handle, partialPath, state);
        sinceCheckpoint = 0;
      }
      await onChunk?.({ bytes: state.bytes, chunks: state.chunks, size: info.size });
    }
  }

  /** Makes the bytes written so far durable, then records how far they go. */
  async #checkpoint(handle: FileHandle, partialPath: string, state: ObjectResumeState): Promise<void> {
    await handle.sync();
    await saveResumeState(partialPath, state);
  }
}
