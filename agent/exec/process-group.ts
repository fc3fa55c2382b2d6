import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** SIGTERM to the group, SIGKILL to whatever of it is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  const until = performance.now() + graceMs;
  while ((await groupRuns(pgid)) && performance.now() < until) await sleep(25);
  if (await groupRuns(pgid)) signalGroup(pgid, "SIGKILL");
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Whether a member of the group still runs. Zombies do not count: orphaned grandchildren are
 * reaped by init, which in containers may take seconds, and a zombie cannot hold anything.
 */
export async function groupRuns(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  const pids = await readdir("/proc").catch(() => undefined);
  if (pids === undefined) return true;
  const states = await Promise.all(
    pids
      .filter((name) => /^\d+$/.test(name))
      .map(async (pid) => {
        const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
        // Fields after "(comm)": state ppid pgrp ...
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X";
      }),
  );
  return states.some(Boolean);
}
