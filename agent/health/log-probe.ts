import { open } from "node:fs/promises";
import type { ProbeConfig } from "../config.ts";

type LogProbeConfig = Extract<ProbeConfig, { type: "log" }>;

/** Longest line kept whole; a longer one is matched in pieces of this size. */
const MAX_LINE_BYTES = 64 * 1024;
/** Most bytes one check reads; the rest is read by the next check. */
const MAX_READ_PER_CHECK = 16 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;
/** Bytes before the read position remembered to notice a file rewritten in place. */
const MARK_BYTES = 64;

/**
 * A cursor on one log file plus the first line seen for each watched pattern. Made by
 * `createLogProbeState`, which remembers the file's size at that moment: only lines appended
 * afterwards count.
 *
 * Matches are kept per pattern and are sticky, so one state may serve several log probes on the
 * same file (keyed by file path): each probe registers its patterns with `watch()` before the read,
 * and every line read is tested against all of them. Reads on one state are serialized.
 */
export class LogProbeState {
  readonly file: string;
  /** Bytes of the current file already read. */
  private offset: number;
  /** Inode of the file read so far; a different one means the file was rotated. */
  private ino: number | undefined;
  /** Bytes after the last newline, waiting for the rest of their line. */
  private pending: Buffer = Buffer.alloc(0);
  /** The last bytes before `offset`; if they changed, the file was truncated and rewritten. */
  private mark: Buffer;
  private queue: Promise<unknown> = Promise.resolve();
  /** Watched patterns (by source) and the first line that matched each. */
  private readonly matches = new Map<string, { regex: RegExp; line: string | undefined }>();
  /** Whether the file existed at the last read. */
  exists: boolean;

  constructor(file: string, offset: number, ino: number | undefined, mark: Buffer = Buffer.alloc(0)) {
    this.file = file;
    this.offset = offset;
    this.ino = ino;
    this.mark = mark;
    this.exists = ino !== undefined;
  }

  /** Tests every line read from now on against `pattern`. @throws SyntaxError for an invalid pattern. */
  watch(pattern: string): void {
    if (!this.matches.has(pattern)) this.matches.set(pattern, { regex: new RegExp(pattern), line: undefined });
  }

  /** The first line that matched `pattern` since it was watched, if any. */
  firstMatch(pattern: string): string | undefined {
    return this.matches.get(pattern)?.line;
  }

  /**
   * Reads what was appended since the last read and tests each complete line against the watched
   * patterns. A file that has a new inode (rotated), shrank, or whose bytes before the read
   * position changed (truncated and rewritten past the old size, as with copytruncate) is read
   * again from its start; lines written to the old file after the last read are then missed.
   * A missing file is not an error (`exists` becomes false).
   */
  scan(): Promise<void> {
    const next = this.queue.then(() => this.read((line) => this.match(line)));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private match(line: string): void {
    for (const entry of this.matches.values()) {
      if (entry.line === undefined && entry.regex.test(line)) entry.line = line;
    }
  }

  private async read(onLine: (line: string) => void): Promise<void> {
    const handle = await open(this.file, "r").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (handle === undefined) {
      this.exists = false;
      return;
    }
    try {
      this.exists = true;
      const info = await handle.stat();
      if (this.ino !== undefined && info.ino !== this.ino) this.restart();
      else if (info.size < this.offset) this.restart();
      else if (this.mark.length > 0) {
        const now = Buffer.alloc(this.mark.length);
        await handle.read(now, 0, now.length, this.offset - this.mark.length);
        if (!now.equals(this.mark)) this.restart();
      }
      this.ino = info.ino;
      const end = Math.min(info.size, this.offset + MAX_READ_PER_CHECK);
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(end - this.offset, 0)));
      while (this.offset < end) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - this.offset), this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.remember(buffer.subarray(0, bytesRead));
        this.split(buffer.subarray(0, bytesRead), onLine);
      }
    } finally {
      await handle.close();
    }
  }

  private restart(): void {
    this.offset = 0;
    this.pending = Buffer.alloc(0);
    this.mark = Buffer.alloc(0);
  }

  private remember(chunk: Buffer): void {
    const joined = chunk.length >= MARK_BYTES ? chunk : Buffer.concat([this.mark, chunk]);
    this.mark = Buffer.from(joined.subarray(Math.max(0, joined.length - MARK_BYTES)));
  }

  private split(chunk: Buffer, onLine: (line: string) => void): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      onLine(data.subarray(start, nl).toString("utf8").replace(/\r$/, ""));
      start = nl + 1;
    }
    data = data.subarray(start);
    while (data.length > MAX_LINE_BYTES) {
      onLine(data.subarray(0, MAX_LINE_BYTES).toString("utf8"));
      data = data.subarray(MAX_LINE_BYTES);
    }
    this.pending = Buffer.from(data);
  }
}

/**
 * A state that counts only lines appended to `file` from now on. If the file does not exist yet,
 * everything it will contain counts. Never rejects: an unreadable path gives a state whose checks
 * report why.
 */
export async function createLogProbeState(file: string): Promise<LogProbeState> {
  const handle = await open(file, "r").catch(() => undefined);
  if (handle === undefined) return new LogProbeState(file, 0, undefined);
  try {
    const info = await handle.stat();
    const mark = Buffer.alloc(Math.min(MARK_BYTES, info.size));
    const { bytesRead } = await handle.read(mark, 0, mark.length, info.size - mark.length);
    return new LogProbeState(file, info.size, info.ino, mark.subarray(0, bytesRead));
  } catch {
    // Not a readable regular file (a directory?): checks will report why.
    return new LogProbeState(file, 0, undefined);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * One fresh state for each log probe of `probes`, keyed by the probe object. Take them before the
 * start hook runs and hand them to `waitHealthy`, so a ready line logged during start counts.
 */
export async function createLogProbeStates(probes: readonly ProbeConfig[]): Promise<Map<ProbeConfig, LogProbeState>> {
  const states = new Map<ProbeConfig, LogProbeState>();
  await Promise.all(
    probes.map(async (probe) => {
      if (probe.type === "log") states.set(probe, await createLogProbeState(probe.file));
    }),
  );
  return states;
}

export interface LogCheck {
  healthy: boolean;
  fatal?: boolean;
  detail: string;
}

/**
 * Reads the new lines and judges them: a failPattern line -> fatal (sticky); with readyPattern,
 * unhealthy until a matching line was seen; otherwise healthy. Read errors are unhealthy.
 */
export async function checkLogProbe(probe: LogProbeConfig, state: LogProbeState): Promise<LogCheck> {
  const { failPattern, readyPattern } = probe;
  try {
    if (failPattern !== undefined) state.watch(failPattern);
    if (readyPattern !== undefined) state.watch(readyPattern);
  } catch (err) {
    return { healthy: false, fatal: true, detail: `invalid pattern: ${(err as Error).message}; fix the probe's failPattern/readyPattern` };
  }
  try {
    await state.scan();
  } catch (err) {
    return { healthy: false, detail: `cannot read ${state.file}: ${(err as Error).message}` };
  }
  const failLine = failPattern === undefined ? undefined : state.firstMatch(failPattern);
  if (failLine !== undefined) return { healthy: false, fatal: true, detail: `fail line: ${clip(failLine)}` };
  if (readyPattern !== undefined) {
    const readyLine = state.firstMatch(readyPattern);
    if (readyLine !== undefined) return { healthy: true, detail: `ready line: ${clip(readyLine)}` };
    return { healthy: false, detail: state.exists ? `no line matching /${readyPattern}/ yet` : `${state.file} does not exist yet` };
  }
  if (failPattern !== undefined) return { healthy: true, detail: `no line matching /${failPattern}/` };
  return { healthy: true, detail: "no patterns to check" };
}

function clip(line: string, max = 300): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
