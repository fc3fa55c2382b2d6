import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { HoistError, throwIfAborted, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";
import { redactUrl } from "./layout.ts";
import type { Artifact } from "../../shared/wire/index.ts";

/** Where an artifact comes from and what its bytes must be. */
/** An artifact to fetch: the one wire shape (shared/wire): url (absolute path, file: or http(s):), sha256 of the raw bytes, size when known. */
export type ArtifactRef = Artifact;

export interface FetchedArtifact {
  /** `CACHE_DIR/<sha256>.artifact`, verified. */
  path: string;
  sha256: string;
  size: number;
  /** True when a verified cached copy was used and nothing was downloaded. */
  cached: boolean;
}

export interface FetchOptions extends WorkOptions {
  /** Refuse artifacts larger than this (the service's limits.maxArtifactBytes). */
  maxBytes: number;
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const PROGRESS_EVERY_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/**
 * Fetches an artifact into `cacheDir` and proves its bytes before anyone parses them.
 *
 * The raw bytes stream to `CACHE_DIR/<sha256>.partial` and are hashed on the way; the fetch stops
 * as soon as more bytes arrive than `size` (when given) or `maxBytes`. Only when size and sha256
 * match is the file fsynced and renamed to `CACHE_DIR/<sha256>.artifact`. A cached artifact is
 * re-hashed before it is trusted; a corrupt cached copy is deleted and fetched again.
 *
 * Concurrent fetches of the same sha256 into the same cache dir must be serialized by the caller
 * (the agent holds one operation per service).
 *
 * @throws HoistError ARTIFACT_CHECKSUM_MISMATCH when the sha256 or size differ (message shows both),
 *   ARCHIVE_UNSAFE when the artifact is larger than `maxBytes`, ARTIFACT_FETCH_FAILED when the file
 *   is missing or unreadable or the server answers an error status, INVALID_ARGUMENT for a bad
 *   url or sha256, CANCELLED / TIMEOUT when the signal fires.
 */
export async function fetchArtifact(artifact: ArtifactRef, cacheDir: string, options: FetchOptions): Promise<FetchedArtifact> {
  const { signal, onProgress } = options;
  const sha256 = artifact.sha256.toLowerCase();
  if (!SHA256_PATTERN.test(sha256)) {
    throw new HoistError("INVALID_ARGUMENT", `artifact sha256 must be 64 hex digits, got ${JSON.stringify(artifact.sha256)}`);
  }
  if (artifact.size !== undefined && (!Number.isSafeInteger(artifact.size) || artifact.size < 0)) {
    throw new HoistError("INVALID_ARGUMENT", `artifact size must be a non-negative integer, got ${artifact.size}`);
  }
  if (artifact.size !== undefined && artifact.size > options.maxBytes) {
    throw tooBig(artifact.url, artifact.size, options.maxBytes);
  }
  throwIfAborted(signal);
  await mkdir(cacheDir, { recursive: true });
  const finalPath = join(cacheDir, `${sha256}.artifact`);
  const partialPath = join(cacheDir, `${sha256}.partial`);

  const cached = await verifyCached(finalPath, sha256, artifact.size, options);
  if (cached !== undefined) {
    onProgress?.({ step: "stage", message: "artifact found in cache", bytes: cached, totalBytes: cached, percent: 100 });
    return { path: finalPath, sha256, size: cached, cached: true };
  }

  await rm(partialPath, { force: true });
  try {
    const { body, totalBytes } = await openSource(artifact, options);
    try {
      const size = await download(artifact, sha256, body, totalBytes, partialPath, options);
      await rename(partialPath, finalPath);
      await fsyncDir(cacheDir);
      return { path: finalPath, sha256, size, cached: false };
    } finally {
      body.destroy();
    }
  } catch (err) {
    await rm(partialPath, { force: true });
    if (err instanceof HoistError) throw err;
    throwIfAborted(signal);
    throw toHoistError(err, "ARTIFACT_FETCH_FAILED");
  }
}

/** Streams `body` into `partialPath`, hashing on the way; returns the size once size and sha256 match. */
async function download(artifact: ArtifactRef, sha256: string, body: Readable, totalBytes: number | undefined, partialPath: string, options: FetchOptions): Promise<number> {
  const { signal, onProgress } = options;
  if (totalBytes !== undefined) {
    if (totalBytes > options.maxBytes) throw tooBig(artifact.url, totalBytes, options.maxBytes);
    if (artifact.size !== undefined && totalBytes !== artifact.size) throw sizeMismatch(artifact.url, artifact.size, totalBytes);
  }
  const expectedTotal = artifact.size ?? totalBytes;
  const hash = createHash("sha256");
  let bytes = 0;
  let reported = -1;
  const report = (force: boolean): void => {
    const percent = expectedTotal ? Math.floor((bytes / expectedTotal) * 100) : undefined;
    const due = percent !== undefined ? percent !== reported : bytes - reported >= PROGRESS_EVERY_BYTES;
    if (!force && !due) return;
    reported = percent ?? bytes;
    onProgress?.({ step: "stage", message: `fetching ${redactUrl(artifact.url)}`, bytes, totalBytes: expectedTotal, percent });
  };
  const handle = await open(partialPath, "w", 0o600);
  try {
    report(true);
    for await (const chunk of body as AsyncIterable<Buffer>) {
      throwIfAborted(signal);
      bytes += chunk.length;
      if (bytes > options.maxBytes) throw tooBig(artifact.url, options.maxBytes, options.maxBytes, true);
      if (artifact.size !== undefined && bytes > artifact.size) throw sizeMismatch(artifact.url, artifact.size, bytes, true);
      hash.update(chunk);
      await handle.write(chunk);
      report(false);
    }
    throwIfAborted(signal);
    if (artifact.size !== undefined && bytes !== artifact.size) throw sizeMismatch(artifact.url, artifact.size, bytes);
    const actual = hash.digest("hex");
    if (actual !== sha256) throw checksumMismatch(artifact.url, sha256, actual);
    await handle.sync();
  } finally {
    await handle.close();
  }
  report(true);
  return bytes;
}

/** Returns the size of the cached artifact when its bytes still hash to `sha256`; removes a bad copy. */
async function verifyCached(path: string, sha256: string, size: number | undefined, options: FetchOptions): Promise<number | undefined> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw toHoistError(err, "ARTIFACT_FETCH_FAILED");
  }
  if (!info.isFile() || info.size > options.maxBytes || (size !== undefined && info.size !== size)) {
    await rm(path, { force: true, recursive: true });
    return undefined;
  }
  options.onProgress?.({ step: "stage", message: "verifying cached artifact", bytes: 0, totalBytes: info.size, percent: 0 });
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path, { signal: options.signal })) hash.update(chunk as Buffer);
  } catch (err) {
    throwIfAborted(options.signal);
    throw toHoistError(err, "ARTIFACT_FETCH_FAILED");
  }
  if (hash.digest("hex") === sha256) return info.size;
  await rm(path, { force: true });
  return undefined;
}

/** Opens the artifact's byte stream; `totalBytes` is known for files and for HTTP with Content-Length. */
async function openSource(artifact: ArtifactRef, options: FetchOptions): Promise<{ body: Readable; totalBytes?: number }> {
  const { url } = artifact;
  if (/^https?:\/\//i.test(url)) return openHttp(url, options.signal);
  if (url.startsWith("nats-object:")) {
    throw new HoistError("ARTIFACT_FETCH_FAILED", `artifact ${url} lives in the NATS object store and is not in the cache; the unattended loop fetches it before an upgrade (docs/unattended.md)`, { retryable: true });
  }
  let path: string;
  if (/^file:/i.test(url)) {
    try {
      path = fileURLToPath(url);
    } catch (err) {
      throw new HoistError("INVALID_ARGUMENT", `artifact url ${url} is not a valid file: URL`, { cause: err });
    }
  } else if (isAbsolute(url)) {
    path = url;
  } else {
    throw new HoistError("INVALID_ARGUMENT", `artifact url must be an absolute path, a file: URL or an http(s) URL, got ${JSON.stringify(redactUrl(url))}`);
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new HoistError("ARTIFACT_FETCH_FAILED", `cannot read artifact ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check the path in the catalog`, {
      cause: err,
      details: { path },
      retryable: (err as NodeJS.ErrnoException).code !== "ENOENT",
    });
  }
  if (!info.isFile()) {
    throw new HoistError("ARTIFACT_FETCH_FAILED", `artifact ${path} is not a regular file`, { details: { path }, retryable: false });
  }
  return { body: createReadStream(path, { signal: options.signal }), totalBytes: info.size };
}

async function openHttp(url: string, signal: AbortSignal | undefined): Promise<{ body: Readable; totalBytes?: number }> {
  const shown = redactUrl(url);
  let response: IncomingMessage;
  try {
    response = await getFollowingRedirects(new URL(url), signal, MAX_REDIRECTS);
  } catch (err) {
    throwIfAborted(signal);
    if (err instanceof HoistError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new HoistError("ARTIFACT_FETCH_FAILED", `cannot fetch artifact ${shown}: ${code ?? (err as Error).message}`, { cause: err, details: { url: shown } });
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    throw new HoistError("ARTIFACT_FETCH_FAILED", `fetching artifact ${shown} failed: HTTP ${status} ${response.statusMessage ?? ""}`.trimEnd(), {
      details: { url: shown, status },
      // 4xx other than 408/429 will not fix themselves.
      retryable: status >= 500 || status === 408 || status === 429,
    });
  }
  const encoding = response.headers["content-encoding"] ?? "identity";
  if (encoding !== "identity") {
    response.resume();
    throw new HoistError("ARTIFACT_FETCH_FAILED", `server sent artifact ${shown} with content-encoding ${encoding}; serve the raw bytes`, {
      details: { url: shown },
      retryable: false,
    });
  }
  const length = response.headers["content-length"];
  const totalBytes = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  return { body: response, totalBytes };
}

/** GET with node:http(s) (raw bytes, no transparent decompression), following a few redirects. */
function getFollowingRedirects(url: URL, signal: AbortSignal | undefined, redirectsLeft: number): Promise<IncomingMessage> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Promise.reject(new HoistError("ARTIFACT_FETCH_FAILED", `artifact redirect to unsupported protocol ${url.protocol}`, { retryable: false }));
  }
  const get = url.protocol === "https:" ? httpsGet : httpGet;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = get(url, { signal, headers: { "accept-encoding": "identity", "user-agent": "hoist-agent" } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
        response.resume();
        if (redirectsLeft <= 0) {
          reject(new HoistError("ARTIFACT_FETCH_FAILED", `too many redirects fetching artifact ${redactUrl(url.toString())}`, { retryable: false }));
          return;
        }
        getFollowingRedirects(new URL(location, url), signal, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.on("error", reject);
  });
}

function checksumMismatch(url: string, expected: string, actual: string): HoistError {
  return new HoistError("ARTIFACT_CHECKSUM_MISMATCH", `artifact ${redactUrl(url)} has sha256 ${actual}, expected ${expected}; the download is corrupt or the catalog is wrong`, { details: { expected, actual } });
}

function sizeMismatch(url: string, expected: number, actual: number, atLeast = false): HoistError {
  return new HoistError("ARTIFACT_CHECKSUM_MISMATCH", `artifact ${redactUrl(url)} is ${atLeast ? "at least " : ""}${actual} bytes, expected ${expected}; the download is corrupt or the catalog is wrong`, {
    details: { expectedSize: expected, actualSize: actual },
  });
}

function tooBig(url: string, bytes: number, maxBytes: number, atLeast = false): HoistError {
  return new HoistError("ARCHIVE_UNSAFE", `artifact ${redactUrl(url)} is ${atLeast ? "more than " : ""}${bytes} bytes, over limits.maxArtifactBytes (${maxBytes}); raise the limit if the artifact is legitimate`, {
    details: { bytes, maxBytes },
  });
}
