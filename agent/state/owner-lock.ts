import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { HoistError } from "../../shared/errors/index.ts";
import { processStartTicks } from "./process-identity.ts";

// fs-ext is CommonJS with a native binding; createRequire keeps it out of the ESM loader.
const { flockSync } = createRequire(import.meta.url)("fs-ext") as { flockSync: (fd: number, flags: "exnb" | "un") => void };

/** Who holds an agent state dir: written into the lock file by the holder, read by everyone else. */
export interface LockOwner {
  pid: number;
  /** Start time of the holder in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  startTicks: number;
  startedAt: string;
  /** What the holder runs, e.g. `hoist upgrade` or `hoist agent run`. */
  command: string;
  host: string;
}

export const OWNER_LOCK_FILE = "owner.lock";

/**
 * The exclusive ownership of one agent state dir (its journals and running-process ledger): an
 * `flock(LOCK_EX|LOCK_NB)` on `STATE_DIR/owner.lock` held for the life of the process, so the kernel
 * releases it when the holder dies, however it dies. Only the holder runs or resumes operations;
 * other processes only read.
 */
export class OwnerLock {
  private constructor(
    private fd: number | undefined,
    readonly owner: LockOwner,
  ) {}

  /**
   * Takes the lock or refuses at once.
   * @throws HoistError BUSY naming the holder (pid, command, since when) when another process has it.
   */
  static acquire(stateDir: string, command: string): OwnerLock {
    mkdirSync(stateDir, { recursive: true });
    const path = join(stateDir, OWNER_LOCK_FILE);
    const fd = openSync(path, "a+", 0o600);
    try {
      flockSync(fd, "exnb");
    } catch (err) {
      closeSync(fd);
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" && (err as NodeJS.ErrnoException).code !== "EWOULDBLOCK") throw err;
      const holder = readLockOwner(stateDir);
      throw new HoistError("BUSY", `${describeOwner(holder)} owns ${stateDir} and may be in the middle of an upgrade; wait for it to finish (or stop it) and try again; \`hoist status\` shows what it is doing`, {
        details: { stateDir, ...(holder ? { owner: holder } : {}) },
      });
    }
    const owner: LockOwner = { pid: process.pid, startTicks: processStartTicks(process.pid) ?? 0, startedAt: new Date().toISOString(), command, host: hostname() };
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(owner)}\n`, 0);
    return new OwnerLock(fd, owner);
  }

  /** Lets the lock go (the kernel does the same when the process exits). */
  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (fstatSync(fd).isFile()) ftruncateSync(fd, 0);
      flockSync(fd, "un");
    } finally {
      closeSync(fd);
    }
  }
}

/** The holder recorded in the lock file, if any (it may be gone: only the flock says who holds it now). */
export function readLockOwner(stateDir: string): LockOwner | undefined {
  try {
    const text = readFileSync(join(stateDir, OWNER_LOCK_FILE), "utf8").trim();
    return text === "" ? undefined : (JSON.parse(text) as LockOwner);
  } catch {
    return undefined;
  }
}

/** Whether some process holds the lock right now (tries it and lets go at once). */
export function isOwned(stateDir: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(stateDir, OWNER_LOCK_FILE), "r");
  } catch {
    return false;
  }
  try {
    flockSync(fd, "exnb");
    flockSync(fd, "un");
    return false;
  } catch {
    return true;
  } finally {
    closeSync(fd);
  }
}

export function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return "another process";
  return `\`${owner.command}\` (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt})`;
}
