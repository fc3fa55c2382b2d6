import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, chmodSync, chownSync, mkdirSync, openSync, readFileSync, symlinkSync, utimesSync } from "node:fs";
import { createHash, hash, type Hash } from "node:crypto";
import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { isSafeRelativePath } from "./paths.ts";
import { TarFormatError, type TarHeader } from "./tar-format.ts";
import { TarParser, type TarParserHandler } from "./tar-parser.ts";
import { walkDataDir } from "./walk.ts";
import { writeAll } from "./write-all.ts";

export interface UnpackOptions {
  /** verify: read and check only; extract: also write the tree into `target` (which must not exist). */
  mode: "verify" | "extract";
  target?: string;
  /** Manifest entries of this data dir, in archive order. */
  entries: SnapshotEntry[];
  /** Restore owners (uid/gid) from the archive: only possible, and only done, as root. */
  chown: boolean;
  /** Check the sha256 of every file (false when another thread checks the same bytes). */
  hash: boolean;
  /**
   * With `hash`: check only this thread's share of the files (`checksHere`): every other file of
   * HAND_OFF_BELOW bytes or more, the even (0) or odd (1) ones; the others' content is handed off
   * as segments (`takeSegments`) for the other thread to hash from the same chunk.
   */
  hashParity?: 0 | 1;
  /** Names the archive in messages (e.g. "data-0.tar"). */
  label: string;
}

interface OpenEntry {
  header: TarHeader;
  expected: SnapshotEntry;
  /** Handed off to the other thread (hashParity set, not hashed here): content bytes seen so far. */
  handedOff: boolean;
  received: number;
  /** Hashing this file: `hash` once its content comes in more than one piece, else `digest` from the one-shot hash. */
  hashing: boolean;
  hash?: Hash;
  digest?: string;
  fd?: number;
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** What new files get without further calls (fchmod/fchown are skipped when they would change nothing). */
const UMASK = readUmask();
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

/**
 * Checks a snapshot archive against its manifest entries while it streams by and, in extract mode,
 * writes the tree. Every archive entry must be the next manifest entry with the same path, type,
 * mode, size, symlink target and sha256; anything else throws SNAPSHOT_CORRUPT naming the first
 * difference.
 *
 * Extraction cannot escape `target`: paths are relative without `..` (checked against the
 * manifest schema and again here), an entry's parent must be a dir this extraction created (so
 * never a symlink), files are created with O_EXCL|O_NOFOLLOW, and nothing existing is overwritten.
 * Dir modes and times are applied last, deepest first, so read-only dirs can still be filled.
 * Runs in the snapshot worker (synchronous fs calls); in verify mode it makes no fs calls and also
 * runs on the main thread (restore checks the sha256 there while the worker writes).
 */
export class Unpacker implements TarParserHandler {
  bytesDone = 0;
  private readonly parser = new TarParser(this);
  private index = 0;
  private current: OpenEntry | undefined;
  private readonly createdDirs = new Set<string>(["."]);
  /**
   * Regular files seen so far: the only thing a hardlink may point to. Kept only when the manifest
   * lists hardlinks (an archive entry must have the manifest entry's type, so without any in the
   * manifest, none can pass).
   */
  private readonly files: Set<string> | undefined;
  private fileOrdinal = 0;
  private readonly dirs: TarHeader[] = [];
  /** The chunk being parsed, and the handed-off file segments found in it: [entry index, start, end, last]. */
  private chunk: Uint8Array | undefined;
  private segments: number[] = [];

  constructor(private readonly options: UnpackOptions) {
    this.files = options.entries.some((entry) => entry.type === "hardlink") ? new Set() : undefined;
    if (options.mode === "extract") mkdirSync(this.target, { mode: 0o700 });
  }

  private get target(): string {
    return this.options.target!;
  }

  push(chunk: Uint8Array): void {
    this.chunk = chunk;
    try {
      this.parser.push(chunk);
    } catch (err) {
      throw this.wrap(err);
    } finally {
      this.chunk = undefined;
    }
  }

  /**
   * The content segments of handed-off files (see hashParity) in the chunk last pushed, as flat
   * quadruples [manifest entry index, start, end, last (1 when the file ends there)], offsets into
   * that chunk; the other thread hashes them (FileHashes) before the chunk's slot is reused.
   */
  takeSegments(): number[] {
    const segments = this.segments;
    this.segments = [];
    return segments;
  }

  /** After the last chunk: checks that nothing is missing, then (extract) finishes dirs and checks the tree. */
  finish(): void {
    try {
      this.parser.end();
    } catch (err) {
      throw this.wrap(err);
    }
    if (this.index !== this.options.entries.length) {
      const next = this.options.entries[this.index]!;
      throw this.corrupt(`archive ends after ${this.index} entries but the manifest lists ${this.options.entries.length} (first missing: ${next.path})`, next.path);
    }
    if (this.options.mode === "extract") {
      for (let i = this.dirs.length - 1; i >= 0; i--) {
        const header = this.dirs[i]!;
        const abs = this.abs(header.path);
        if (this.options.chown) chownSync(abs, header.uid, header.gid);
        chmodSync(abs, header.mode);
        utimesSync(abs, header.mtime, header.mtime);
      }
      this.checkTree();
    }
  }

  /** Closes what is open after a failure (the caller removes the target). */
  close(): void {
    if (this.current?.fd !== undefined) {
      closeSync(this.current.fd);
      this.current.fd = undefined;
    }
  }

  onEntry(header: TarHeader): void {
    const expected = this.options.entries[this.index];
    if (expected === undefined) throw this.corrupt(`archive holds ${header.path} after the ${this.index} entries the manifest lists`, header.path);
    if (header.path !== expected.path) {
      throw this.corrupt(`entry ${this.index} of the archive is ${header.path} but the manifest expects ${expected.path}`, expected.path);
    }
    if (!isSafeRelativePath(header.path)) throw this.corrupt(`unsafe path ${JSON.stringify(header.path)} in the archive`, header.path);
    if (header.type !== expected.type) throw this.corrupt(`${header.path} is a ${header.type} in the archive but a ${expected.type} in the manifest`, header.path);
    if (header.mode !== expected.mode) {
      throw this.corrupt(`${header.path} has mode ${octal(header.mode)} in the archive but ${octal(expected.mode)} in the manifest`, header.path);
    }
    if (header.size !== expected.size) throw this.corrupt(`${header.path} is ${header.size} bytes in the archive but ${expected.size} in the manifest`, header.path);
    if ((header.type === "symlink" || header.type === "hardlink") && header.target !== expected.target) {
      throw this.corrupt(`${header.type} ${header.path} points to ${header.target} in the archive but to ${expected.target} in the manifest`, header.path);
    }
    if (header.type === "hardlink" && this.files?.has(header.target!) !== true) {
      throw this.corrupt(`hard link ${header.path} points to ${header.target}, which is not a file earlier in the archive`, header.path);
    }
    if (header.type === "file") this.files?.add(header.path);
    let hashing = false;
    let handedOff = false;
    if (header.type === "file") {
      const parity = this.options.hashParity;
      hashing = this.options.hash && (parity === undefined || checksHere(expected.size, this.fileOrdinal, parity));
      handedOff = this.options.hash && !hashing;
      this.fileOrdinal += 1;
    }
    const open: OpenEntry = { header, expected, hashing, handedOff, received: 0 };
    this.current = open;
    if (this.options.mode === "extract") this.create(open);
  }

  onData(data: Uint8Array): void {
    const open = this.current!;
    if (open.handedOff) {
      const start = data.byteOffset - this.chunk!.byteOffset;
      open.received += data.length;
      this.segments.push(this.index, start, start + data.length, open.received === open.header.size ? 1 : 0);
    }
    if (open.hashing) {
      if (open.hash === undefined && data.length === open.header.size) open.digest = hash("sha256", data, "hex");
      else (open.hash ??= createHash("sha256")).update(data);
    }
    if (open.fd !== undefined) writeAll(open.fd, data, null);
    this.bytesDone += data.length;
  }

  onEntryEnd(): void {
    const open = this.current!;
    if (open.handedOff && open.header.size === 0) this.segments.push(this.index, 0, 0, 1);
    if (open.hashing) {
      const actual = open.digest ?? (open.hash ?? createHash("sha256")).digest("hex");
      if (actual !== open.expected.sha256) {
        throw this.corrupt(`${open.header.path}: content sha256 ${actual} differs from the manifest's ${open.expected.sha256 ?? "(none)"}`, open.header.path);
      }
    }
    if (open.fd !== undefined) {
      const fd = open.fd;
      open.fd = undefined;
      try {
        const { uid, gid, mode, mtime } = open.header;
        if (this.options.chown && (uid !== EUID || gid !== EGID)) fchownSync(fd, uid, gid);
        // chown clears setuid/setgid, so a mode with special bits is always set after it.
        if ((mode & ~UMASK) !== mode || mode > 0o777 || (this.options.chown && (uid !== EUID || gid !== EGID))) fchmodSync(fd, mode);
        futimesSync(fd, mtime, mtime);
      } finally {
        closeSync(fd);
      }
    }
    this.current = undefined;
    this.index += 1;
  }

  private create(open: OpenEntry): void {
    const { header } = open;
    if (header.path === ".") {
      this.dirs.push(header);
      return;
    }
    const slash = header.path.lastIndexOf("/");
    const parent = slash < 0 ? "." : header.path.slice(0, slash);
    if (!this.createdDirs.has(parent)) {
      throw this.corrupt(`${header.path}: its parent ${parent} is not a directory extracted before it (entries may not pass through symlinks)`, header.path);
    }
    const abs = this.abs(header.path);
    try {
      if (header.type === "dir") {
        mkdirSync(abs, { mode: 0o700 });
        this.createdDirs.add(header.path);
        this.dirs.push(header);
      } else if (header.type === "hardlink") {
        linkSync(this.abs(header.target!), abs);
      } else if (header.type === "symlink") {
        symlinkSync(header.target!, abs);
        if (this.options.chown) lchownSync(abs, header.uid, header.gid);
        lutimesSync(abs, header.mtime, header.mtime);
      } else {
        open.fd = openSync(abs, WRITE_FLAGS, header.mode & 0o777);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw this.corrupt(`${header.path} appears twice in the archive`, header.path);
      throw err;
    }
  }

  /**
   * The extracted tree must be exactly the manifest: same entries, types, modes, sizes, targets; a
   * hardlink the same inode as its target. Compared by path (a two-phase archive is not in walk order).
   */
  private checkTree(): void {
    const found = walkDataDir(this.target, () => false).items;
    const entries = this.options.entries;
    const byPath = new Map<string, number>();
    for (const [index, item] of found.entries()) byPath.set(item.path, index);
    const differs = (path: string, what: string) => new HoistError("SNAPSHOT_CORRUPT", `extracted tree differs from the manifest at ${path}${what}`, { details: { archive: this.options.label, path } });
    if (found.length !== entries.length) {
      const listed = new Set(entries.map((entry) => entry.path));
      const extra = found.find((item) => !listed.has(item.path));
      throw differs(extra?.path ?? entries.find((entry) => !byPath.has(entry.path))?.path ?? "?", "");
    }
    for (const entry of entries) {
      const at = byPath.get(entry.path);
      if (at === undefined) throw differs(entry.path, "");
      const item = found[at]!;
      let same = item.mode === entry.mode;
      if (entry.type === "hardlink") {
        const linked = found[byPath.get(entry.target!) ?? -1];
        same &&= item.type === "file" && linked !== undefined && linked.ino === item.ino;
      } else {
        same &&= item.type === entry.type && item.size === entry.size && (entry.type !== "symlink" || item.target === entry.target);
      }
      if (!same) throw differs(entry.path, " (type, mode, size, target or link)");
    }
  }

  private abs(path: string): string {
    return path === "." ? this.target : join(this.target, path);
  }

  private corrupt(message: string, path?: string): HoistError {
    return new HoistError("SNAPSHOT_CORRUPT", `snapshot archive ${this.options.label}: ${message}`, {
      details: { archive: this.options.label, ...(path === undefined ? {} : { path }) },
    });
  }

  private wrap(err: unknown): unknown {
    if (err instanceof TarFormatError) return this.corrupt(`${err.message} (near byte ${this.parser.offset})`);
    return err;
  }
}

/**
 * Files smaller than this are all handed off when the hashing is split: the worker already pays
 * per entry for parsing (and, extracting, for creating the file), the other thread has room; for
 * 100k tiny files the split by parity left the worker the busier thread.
 */
export const HAND_OFF_BELOW = 4096;

/** Whether the thread splitting the hashing with `parity` checks the sha256 of the file with this ordinal (count of files before it) and size. */
export function checksHere(size: number, ordinal: number, parity: 0 | 1): boolean {
  return size >= HAND_OFF_BELOW && ordinal % 2 === parity;
}

/**
 * The process umask from /proc (Linux); process.umask() would briefly set it to 0, a race with
 * other threads creating files. Unknown: 0o777, so that every file gets its fchmod.
 */
function readUmask(): number {
  try {
    const match = /^Umask:\s*([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match === null ? 0o777 : parseInt(match[1]!, 8);
  } catch {
    return 0o777;
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}
