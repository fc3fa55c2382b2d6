import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectStore } from "nats";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import { objectArtifactSha } from "../../shared/unattended/index.ts";

async function hashFile(path: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest("hex");
}

/**
 * Brings an artifact whose catalog url is `nats-object:SHA256` from the JetStream object store into
 * the agent's artifact cache (`CACHE_DIR/<sha256>.artifact`), where staging finds it and re-checks it;
 * nothing else of the engine changes. The bytes are hashed on the way in and renamed into place only
 * when they match. After a disconnect the next attempt fetches again (the loop retries with back-off).
 * @throws HoistError ARTIFACT_FETCH_FAILED (retryable) when the object is missing or the read fails,
 *   ARTIFACT_CHECKSUM_MISMATCH when the bytes do not hash to the sha256.
 */
export async function fetchObjectArtifact(store: ObjectStore, url: string, cacheDir: string, signal?: AbortSignal): Promise<string> {
  const sha256 = objectArtifactSha(url);
  if (sha256 === undefined) throw new HoistError("INVALID_ARGUMENT", `${url} is not a nats-object: artifact url`);
  await mkdir(cacheDir, { recursive: true });
  const finalPath = join(cacheDir, `${sha256}.artifact`);
  if ((await stat(finalPath).catch(() => undefined)) && (await hashFile(finalPath)) === sha256) return finalPath;
  const partialPath = join(cacheDir, `${sha256}.object-partial`);
  let result;
  try {
    result = await store.get(sha256);
  } catch (err) {
    throw new HoistError("ARTIFACT_FETCH_FAILED", `cannot read artifact ${sha256} from the object store: ${(err as Error).message}`, { cause: err, retryable: true });
  }
  if (!result) throw new HoistError("ARTIFACT_FETCH_FAILED", `artifact ${sha256} is not in the object store; push it with hoist release push --catalog`, { retryable: true });
  const hash = createHash("sha256");
  const handle = await open(partialPath, "w", 0o600);
  try {
    const reader = result.data.getReader();
    for (;;) {
      throwIfAborted(signal);
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      await handle.write(value);
    }
    const error = await result.error;
    if (error) throw new HoistError("ARTIFACT_FETCH_FAILED", `reading artifact ${sha256} from the object store failed: ${error.message}`, { cause: error, retryable: true });
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(partialPath, { force: true });
    if (err instanceof HoistError) throw err;
    throw new HoistError("ARTIFACT_FETCH_FAILED", `reading artifact ${sha256} from the object store failed: ${(err as Error).message}`, { cause: err, retryable: true });
  }
  await handle.close();
  const actual = hash.digest("hex");
  if (actual !== sha256) {
    await rm(partialPath, { force: true });
    throw new HoistError("ARTIFACT_CHECKSUM_MISMATCH", `artifact from the object store has sha256 ${actual}, expected ${sha256}`, { details: { expected: sha256, actual } });
  }
  await rename(partialPath, finalPath);
  await fsyncDir(cacheDir);
  return finalPath;
}
