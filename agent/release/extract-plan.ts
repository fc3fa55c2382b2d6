/**
 * Pass 1 of the safe extractor (see extract-safe.ts): parses every header of the archive, writes
 * nothing, and returns the plan of what pass 2 may write, or refuses the archive naming the entry
 * and the rule it broke.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { ReadEntry } from "tar";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";

export interface ExtractLimits {
  /** Sum of the sizes of all regular files. */
  maxExtractedBytes: number;
  /** Number of entries of any kind (files, directories, links). */
  maxEntries: number;
}

export interface ExtractResult {
  /** Regular files written (hardlinks included). */
  files: number;
  /** Bytes of regular file content written. */
  bytes: number;
}

export type Kind = "file" | "dir" | "symlink" | "hardlink";

/** One entry as validated by the first pass; the second pass must see exactly the same sequence. */
export interface PlannedEntry {
  raw: string;
  /** Normalized relative path ("" for the extraction dir itself). */
  path: string;
  type: string;
  kind: Kind;
  size: number;
  mode: number;
  /** Normalized link target (symlink: as written; hardlink: archive path of the target). */
  linkpath?: string;
  rawLinkpath?: string;
  mtime?: Date;
}

export interface Plan {
  entries: PlannedEntry[];
  bytes: number;
  /** Every directory the archive makes, explicitly or as a parent. */
  dirs: Set<string>;
}

export const MAX_DEPTH = 1024;
export const MAX_PATH_LENGTH = 4096;
export const MAX_SYMLINK_HOPS = 40;
/** Bounds the work of checking symlink targets (path components looked at, over all symlinks). */
export const MAX_RESOLVE_STEPS = 50_000_000;
export const SPECIAL_BITS = 0o6000;

export function unsafe(entry: string, rule: string): HoistError {
  return new HoistError("ARCHIVE_UNSAFE", `unsafe archive entry ${JSON.stringify(entry)}: ${rule}; the artifact was refused`, {
    details: { entry, rule },
  });
}

export function badArchive(rule: string, cause?: unknown): HoistError {
  return new HoistError("ARCHIVE_UNSAFE", `archive refused: ${rule}`, { details: { rule }, cause });
}

/** Accepts gzip (1f 8b) or a tar with the ustar magic (POSIX, GNU and pax all carry it). */
export async function sniffFormat(archivePath: string): Promise<"gzip" | "tar"> {
  const handle = await open(archivePath, "r");
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return "gzip";
    if (bytesRead === 512 && head.subarray(257, 262).toString("latin1") === "ustar") return "tar";
    throw badArchive("the file is neither a gzip-compressed nor a ustar tar archive");
  } finally {
    await handle.close();
  }
}

/** Runs node-tar's parser over the file, handing entries one at a time to `handle` (which must consume the entry). */
export async function parseArchive(archivePath: string, handle: (entry: ReadEntry, guard: <T>(work: Promise<T>) => Promise<T>) => void | Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  // node-tar is imported here, at the first stage, not when the agent starts: an idle agent never needs it.
  const { Parser } = await import("tar");
  // strict: every warning (checksum failure, truncated body, zlib error) arrives as 'error'.
  const parser = new Parser({ strict: true, zstd: false, brotli: false });
  let failure: unknown;
  let rejectFailed!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => {
    rejectFailed = reject;
  });
  failed.catch(() => undefined);
  const fail = (err: unknown): void => {
    if (failure !== undefined) return;
    failure = err;
    rejectFailed(err);
  };
  const guard = <T>(work: Promise<T>): Promise<T> => (failure !== undefined ? failed : Promise.race([work, failed]));

  let sawEof = false;
  let chain: Promise<void> = Promise.resolve();
  parser.on("entry", (entry: ReadEntry) => {
    chain = chain
      .then(async () => {
        if (failure === undefined) await handle(entry, guard);
      })
      .catch(fail);
  });
  parser.on("ignoredEntry", (entry: ReadEntry) => fail(unsafe(entry.path, `entry type ${entry.type} is not supported (or its metadata is too large)`)));
  parser.on("warn", (code: string, message: string) => fail(badArchive(`the archive is truncated or corrupt (${code}: ${message})`)));
  parser.on("error", (err: Error & { tarCode?: string }) => {
    const what = err.tarCode === "TAR_ABORT" ? `decompression failed: ${err.message}` : err.message;
    fail(badArchive(`the archive is truncated or corrupt (${what})`, err));
  });
  parser.on("eof", () => {
    sawEof = true;
  });
  const ended = new Promise<void>((resolve) => parser.on("end", () => resolve()));
  const onAbort = (): void => {
    try {
      throwIfAborted(signal);
    } catch (err) {
      fail(err);
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const stream = createReadStream(archivePath);
  try {
    onAbort();
    await guard(
      (async () => {
        for await (const chunk of stream) {
          if (failure !== undefined) return;
          if (!parser.write(chunk as Buffer)) await guard(new Promise<void>((resolve) => parser.once("drain", () => resolve())));
        }
        if (failure !== undefined) return;
        parser.end();
        await ended;
        await chain;
      })(),
    );
  } catch (err) {
    fail(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stream.destroy();
    // Handlers never reject (they feed `fail`) and stop waiting on data once `failed` is settled,
    // so after this no write of ours is in flight.
    await chain;
  }
  // Rethrows what the parser or a handler failed with, unchanged; the undefined check narrows
  // `unknown` to `{}`, which the rule cannot tell from a thrown literal.
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  if (failure !== undefined) throw failure;
  if (!sawEof) throw badArchive("the archive has no end-of-archive marker (it is truncated)");
}

/** Pass 1: validate every header, write nothing. */
export async function planExtraction(archivePath: string, limits: ExtractLimits, signal: AbortSignal | undefined): Promise<Plan> {
  const entries: PlannedEntry[] = [];
  const nodes = new Map<string, Kind>([["", "dir"]]);
  const symlinks = new Map<string, { raw: string; linkpath: string }>();
  const foldedSymlinks = new Set<string>();
  let bytes = 0;
  let impliedDirs = 0;

  await parseArchive(
    archivePath,
    (entry) => {
      const raw = entry.path;
      const tooMany = () => unsafe(raw, `the archive has more than limits.maxEntries (${limits.maxEntries}) entries (directories implied by paths count too)`);
      if (entries.length + impliedDirs + 1 > limits.maxEntries) throw tooMany();
      const kind = kindOf(entry);
      const path = checkPath(raw, raw, "path");
      const parts = path === "" ? [] : path.split("/");

      // Walk up to the deepest ancestor already known as a directory: its own ancestors were
      // checked when it was added, and no symlink can replace it later (that is a conflict).
      let known = parts.length - 1;
      for (; known > 0; known -= 1) {
        const ancestor = parts.slice(0, known).join("/");
        const ancestorKind = nodes.get(ancestor);
        if (ancestorKind === "dir") break;
        if (ancestorKind === "symlink") throw unsafe(raw, `the path goes through the symlink ${JSON.stringify(ancestor)}`);
        if (ancestorKind !== undefined) throw unsafe(raw, `the path goes through ${JSON.stringify(ancestor)}, which is a ${ancestorKind}`);
      }
      for (let depth = known + 1; depth < parts.length; depth += 1) {
        const parent = parts.slice(0, depth).join("/");
        if (foldedSymlinks.size > 0 && foldedSymlinks.has(fold(parent))) {
          throw unsafe(raw, `the path goes through the symlink ${JSON.stringify(parent)} (compared case-insensitively)`);
        }
        impliedDirs += 1;
        if (entries.length + impliedDirs + 1 > limits.maxEntries) throw tooMany();
        nodes.set(parent, "dir");
      }
      if (path === "" && kind !== "dir") throw unsafe(raw, "only a directory may stand for the extraction directory itself");
      const existing = nodes.get(path);
      if (existing !== undefined && !(existing === "dir" && kind === "dir")) {
        throw unsafe(raw, existing === kind ? "duplicate entry" : `it is a ${kind} but an earlier entry made it a ${existing}`);
      }

      let mode = entry.mode ?? (kind === "dir" ? 0o755 : 0o644);
      if ((kind === "file" || kind === "dir") && (mode & SPECIAL_BITS) !== 0) {
        throw unsafe(raw, `setuid/setgid bits are not allowed (mode ${(mode & 0o7777).toString(8)})`);
      }
      mode &= 0o777;

      let linkpath: string | undefined;
      let size = 0;
      if (kind === "symlink") {
        linkpath = String(entry.linkpath ?? "");
        checkLinkTarget(raw, linkpath);
        symlinks.set(path, { raw, linkpath });
        foldedSymlinks.add(fold(path));
      } else if (kind === "hardlink") {
        linkpath = checkPath(raw, String(entry.linkpath ?? ""), "hardlink target");
        const targetKind = nodes.get(linkpath);
        if (linkpath === "" || (targetKind !== "file" && targetKind !== "hardlink")) {
          throw unsafe(raw, `hardlink target ${JSON.stringify(entry.linkpath)} is not a regular file earlier in the archive`);
        }
      } else if (kind === "file") {
        size = entry.size;
        bytes += size;
        if (bytes > limits.maxExtractedBytes) {
          throw unsafe(raw, `extracting it would exceed limits.maxExtractedBytes (${limits.maxExtractedBytes} bytes)`);
        }
      }
      nodes.set(path, kind);
      entries.push({ raw, path, type: entry.type, kind, size, mode, linkpath, rawLinkpath: entry.linkpath, mtime: entry.mtime });
      entry.resume();
    },
    signal,
  );

  if (entries.length === 0) throw badArchive("the archive has no entries");
  const budget = { steps: MAX_RESOLVE_STEPS };
  for (const [path, { raw, linkpath }] of symlinks) {
    const parentParts = path.split("/").slice(0, -1);
    const outcome = resolveInArchive(parentParts, linkpath, symlinks, budget);
    if (outcome === "too-complex") throw unsafe(raw, "the archive's symlinks are too many or too deep to verify");
    if (outcome === "escapes") throw unsafe(raw, `symlink target ${JSON.stringify(linkpath)} resolves outside the extraction directory`);
    if (outcome === "loops") throw unsafe(raw, `symlink target ${JSON.stringify(linkpath)} loops through more than ${MAX_SYMLINK_HOPS} symlinks`);
  }
  const dirs = new Set<string>();
  for (const [path, kind] of nodes) if (kind === "dir") dirs.add(path);
  return { entries, bytes, dirs };
}

export function kindOf(entry: ReadEntry): Kind {
  switch (entry.type) {
    case "File":
    case "OldFile":
    case "ContiguousFile":
      return "file";
    case "Directory":
      return "dir";
    case "SymbolicLink":
      return "symlink";
    case "Link":
      return "hardlink";
    case "CharacterDevice":
    case "BlockDevice":
      throw unsafe(entry.path, "device files are not allowed");
    case "FIFO":
      throw unsafe(entry.path, "FIFOs are not allowed");
    default:
      throw unsafe(entry.path, `entry type ${entry.type} is not supported`);
  }
}

/** Validates an archive path and returns it normalized ("a/./b/" -> "a/b"; "./" -> ""). */
export function checkPath(entry: string, value: string, what: string): string {
  if (value.length === 0) throw unsafe(entry, `${what} is empty`);
  if (value.length > MAX_PATH_LENGTH) throw unsafe(entry, `${what} is longer than ${MAX_PATH_LENGTH} characters`);
  if (value.includes("\0")) throw unsafe(entry, `${what} contains a NUL byte`);
  if (value.includes("\\")) throw unsafe(entry, `${what} contains a backslash (Windows-style paths are refused)`);
  if (/^[A-Za-z]:/.test(value)) throw unsafe(entry, `${what} starts with a drive letter`);
  if (value.startsWith("/")) throw unsafe(entry, `${what} is absolute`);
  const parts = value.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw unsafe(entry, `${what} has a '..' component`);
  if (parts.length > MAX_DEPTH) throw unsafe(entry, `${what} is nested deeper than ${MAX_DEPTH} levels`);
  return parts.join("/");
}

export function checkLinkTarget(entry: string, target: string): void {
  if (target.length === 0) throw unsafe(entry, "symlink target is empty");
  if (target.length > MAX_PATH_LENGTH) throw unsafe(entry, `symlink target is longer than ${MAX_PATH_LENGTH} characters`);
  if (target.includes("\0")) throw unsafe(entry, "symlink target contains a NUL byte");
  if (target.includes("\\")) throw unsafe(entry, `symlink target ${JSON.stringify(target)} contains a backslash`);
  if (target.startsWith("/") || /^[A-Za-z]:/.test(target)) throw unsafe(entry, `symlink target ${JSON.stringify(target)} is absolute`);
}

/**
 * Resolves a relative symlink target the way the kernel would inside a tree holding only the
 * archive's entries, following the archive's symlinks. "escapes" if any step leaves the root.
 */
export function resolveInArchive(startParts: string[], target: string, symlinks: Map<string, { linkpath: string }>, budget: { steps: number }): "inside" | "escapes" | "loops" | "too-complex" {
  const stack = [...startParts];
  const queue = target.split("/");
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return "escapes";
      stack.pop();
      continue;
    }
    stack.push(part);
    budget.steps -= stack.length;
    if (budget.steps < 0) return "too-complex";
    const link = symlinks.get(stack.join("/"));
    if (link !== undefined) {
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS) return "loops";
      if (link.linkpath.startsWith("/")) return "escapes";
      stack.pop();
      queue.unshift(...link.linkpath.split("/"));
    }
  }
  return "inside";
}

/** Case- and Unicode-folded key, so `Link/x` is refused after a symlink `link` too. */
export function fold(path: string): string {
  return path.normalize("NFC").toLowerCase();
}
