import { readFileSync } from "node:fs";

/**
 * The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined
 * when it does not run (or is a zombie). A pid plus its start time names one process for good: a
 * pid reused by a later process has a later start time.
 */
export function processStartTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields || fields[0] === "Z" || fields[0] === "X") return undefined;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** The process group of a live process, or undefined. */
export function processGroup(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields || fields[0] === "Z" || fields[0] === "X") return undefined;
  return Number(fields[2]);
}

/** Fields of /proc/PID/stat after "(comm)": state ppid pgrp session ... (index 0 = state, field 3). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}
