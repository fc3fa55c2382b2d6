import { statSync } from "node:fs";
import { open } from "node:fs/promises";
import type { ProbeConfig } from "../config.ts";

type LogProbeConfig = Extract<ProbeConfig, { type: "log" }>;

/** Longest line kept whole; a longer one is matched in pieces of this size. */
const MAX_LINE_BYTES = 64 * 1024;
/** Most bytes one check reads; the rest is read by the next check. */
const MAX_READ_PER_CHECK = 16 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

/**
 * Where a log probe is in its file and what it has seen there. Made by `createLogProbeState`,
 * which remembers the file's size at that moment: only lines appended afterwards count.
 *
 * One state belongs to one probe (its patterns): the ready line and the fail line it saw are
 * sticky. Checks on the same state are serialized.
 */
export class LogProbeState {
  readonly file: string;
  /** Bytes of the current file already read. */
  private offset: number;
  /** Inode of the file read so far; a different one means the file was rotated. */
  private ino: number | undefined;
  /** Bytes after the last newline, waiting for the rest of their line. */
  private pending: Buffer = Buffer.alloc(0);
  private queue: Promise<unknown> = Promise.resolve();
  /** First line that matched failPattern (sticky). */
  failLine: string | undefined;
  /** First line that matched readyPattern (sticky). */
  readyLine: string | undefined;
  /** Whether the file existed at the last read. */
  exists: boolean;

  constructor(file: string, offset: number, ino: number | undefined) {
    this.file = file;
    this.offset = offset;
    this.ino = ino;
    this.exists = ino !== undefined;
  }

  /**
   * Reads what was appended since the last call and hands each complete line to `onLine`.
   * A file that shrank (truncated) or has a new inode (rotated) is read again from its start;
   * lines written to the old file after the last read are then missed. A missing file is not an error.
   */
  readNewLines(onLine: (line: string) => void): Promise<void> {
    const next = this.queue.then(() => this.read(onLine));
    this.queue = next.catch(() => undefined);
    return next;
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
      this.ino = info.ino;
      const end = Math.min(info.size, this.offset + MAX_READ_PER_CHECK);
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(end - this.offset, 0)));
      while (this.offset < end) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - this.offset), this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.split(buffer.subarray(0, bytesRead), onLine);
      }
    } finally {
      await handle.close();
    }
  }

  private restart(): void {
    this.offset = 0;
    this.pending = Buffer.alloc(0);
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
 * everything it will contain counts. Synchronous (one stat) so it can be taken right before the
 * action whose log lines matter, e.g. just before the start hook runs.
 */
export function createLogProbeState(file: string): LogProbeState {
  try {
    const info = statSync(file);
    return new LogProbeState(file, info.size, info.ino);
  } catch {
    return new LogProbeState(file, 0, undefined);
  }
}

/**
 * One fresh state for each log probe of `probes`, keyed by the probe object. Take them before the
 * start hook runs and hand them to `waitHealthy`, so a ready line logged during start counts.
 */
export function createLogProbeStates(probes: readonly ProbeConfig[]): Map<ProbeConfig, LogProbeState> {
  const states = new Map<ProbeConfig, LogProbeState>();
  for (const probe of probes) if (probe.type === "log") states.set(probe, createLogProbeState(probe.file));
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
  let fail: RegExp | undefined;
  let ready: RegExp | undefined;
  try {
    fail = probe.failPattern === undefined ? undefined : new RegExp(probe.failPattern);
    ready = probe.readyPattern === undefined ? undefined : new RegExp(probe.readyPattern);
  } catch (err) {
    return { healthy: false, fatal: true, detail: `invalid pattern: ${(err as Error).message}; fix the probe's failPattern/readyPattern` };
  }
  try {
    await state.readNewLines((line) => {
      if (fail && state.failLine === undefined && fail.test(line)) state.failLine = line;
      if (ready && state.readyLine === undefined && ready.test(line)) state.readyLine = line;
    });
  } catch (err) {
    return { healthy: false, detail: `cannot read ${state.file}: ${(err as Error).message}` };
  }
  if (state.failLine !== undefined) return { healthy: false, fatal: true, detail: `fail line: ${clip(state.failLine)}` };
  if (ready) {
    if (state.readyLine !== undefined) return { healthy: true, detail: `ready line: ${clip(state.readyLine)}` };
    return { healthy: false, detail: state.exists ? `no line matching /${ready.source}/ yet` : `${state.file} does not exist yet` };
  }
  if (fail) return { healthy: true, detail: `no line matching /${fail.source}/` };
  return { healthy: true, detail: "no patterns to check" };
}

function clip(line: string, max = 300): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
