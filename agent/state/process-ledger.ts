import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { groupRuns, killGroup, signalGroup, type ProcessTracker } from "../exec/index.ts";
import { processGroup, processStartTicks } from "./process-identity.ts";

/** One child process the owner of a state dir started and has not seen end. */
export interface LedgerEntry {
  runId: string;
  /** What it is, e.g. `kv: migration store-schema-2`. */
  label: string;
  argv: string[];
  /** Its pid and process group (spawned detached, so they are equal); missing until spawn returned. */
  pid?: number;
  /** Start time of the pid (clock ticks since boot), to tell a reused pid apart. */
  startTicks?: number;
  startedAt: string;
  /** The agent process that started it. */
  ownerPid: number;
}

export interface ReapedProcess {
  entry: LedgerEntry;
  /** Pids that were still running and were killed (none when the process had ended by itself). */
  killed: number[];
}

export const LEDGER_FILE = "running-processes.json";

/**
 * The journal of running child processes of one agent state dir: every hook, migration, command
 * probe and backup command is written down before it is spawned and as soon as its pid is known, and
 * struck off when it ends. The next owner of the state dir (after a crash of this one) calls
 * `reapOrphans` before it does anything else, so an old migration can never write into data that a
 * rollback has just restored.
 *
 * Writes are synchronous temp + rename without fsync: they must survive the death of this process,
 * which the page cache does; a power loss kills the children too.
 */
export class ProcessLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private readonly path: string;

  constructor(private readonly stateDir: string) {
    this.path = join(stateDir, LEDGER_FILE);
  }

  /** A tracker for runCommand whose entries carry `label` (e.g. the service and hook name). */
  tracker(label: string): ProcessTracker {
    return {
      willSpawn: (argv) => {
        const runId = randomUUID();
        this.entries.set(runId, { runId, label, argv: [...argv], startedAt: new Date().toISOString(), ownerPid: process.pid });
        this.persist();
        return runId;
      },
      spawned: (runId, pid) => {
        const entry = this.entries.get(runId);
        if (!entry) return;
        entry.pid = pid;
        const ticks = processStartTicks(pid);
        if (ticks !== undefined) entry.startTicks = ticks;
        this.persist();
      },
      ended: (runId) => {
        if (this.entries.delete(runId)) this.persist();
      },
    };
  }

  /** What the file says runs now (for read-only commands: the owner's view, possibly stale). */
  static read(stateDir: string): LedgerEntry[] {
    try {
      const parsed = JSON.parse(readFileSync(join(stateDir, LEDGER_FILE), "utf8")) as { processes?: LedgerEntry[] };
      return Array.isArray(parsed.processes) ? parsed.processes : [];
    } catch {
      return [];
    }
  }

  /**
   * Kills (SIGTERM, then SIGKILL after `graceMs`) every process group a previous owner recorded and
   * waits until none of them runs, then clears the file. Call it once after taking the owner lock,
   * before resuming any journal. An entry whose pid was never recorded (the owner died between
   * writing it down and spawning) is found by its HOIST_RUN_ID in /proc/PID/environ.
   */
  async reapOrphans(options: { graceMs?: number; waitMs?: number } = {}): Promise<ReapedProcess[]> {
    const graceMs = options.graceMs ?? 5000;
    const left = ProcessLedger.read(this.stateDir).filter((entry) => !this.entries.has(entry.runId));
    const reaped: ReapedProcess[] = [];
    for (const entry of left) {
      const groups = entry.pid === undefined ? groupsCarrying(entry.runId) : isOurGroup(entry) ? [entry.pid] : [];
      for (const pgid of groups) await killGroup(pgid, graceMs);
      const until = performance.now() + (options.waitMs ?? 10_000);
      for (const pgid of groups) {
        while ((await groupRuns(pgid)) && performance.now() < until) {
          signalGroup(pgid, "SIGKILL");
          await sleep(25);
        }
      }
      reaped.push({ entry, killed: groups });
    }
    this.persist();
    return reaped;
  }

  private persist(): void {
    mkdirSync(this.stateDir, { recursive: true });
    const temp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify({ processes: [...this.entries.values()] }, null, 2)}\n`);
    renameSync(temp, this.path);
  }
}

/**
 * Whether the group the entry names is still the one it started: some member runs, and the leader,
 * if alive, is the same process (same start time). While any member of a group lives, Linux does
 * not hand its number out again, so a live group with a dead leader is still ours.
 */
function isOurGroup(entry: LedgerEntry): boolean {
  const pgid = entry.pid!;
  const leaderTicks = processStartTicks(pgid);
  if (leaderTicks !== undefined) return entry.startTicks === undefined || leaderTicks === entry.startTicks;
  return membersOf(pgid).length > 0;
}

function membersOf(pgid: number): number[] {
  return livePids().filter((pid) => processGroup(pid) === pgid);
}

/** Process groups of the processes whose environment carries HOIST_RUN_ID=runId. */
function groupsCarrying(runId: string): number[] {
  const needle = `HOIST_RUN_ID=${runId}`;
  const groups = new Set<number>();
  for (const pid of livePids()) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue;
    }
    if (!environ.split("\0").includes(needle)) continue;
    const pgid = processGroup(pid);
    if (pgid !== undefined) groups.add(pgid);
  }
  return [...groups];
}

function livePids(): number[] {
  try {
    return readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}
