import { readFile } from "node:fs/promises";

/** Resident memory of a process from /proc/PID/status, in MiB. */
export interface ProcMemory {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the peak resident size since the process started. */
  peak: number;
  /** RssAnon: private memory (heap, stacks, malloc): what the process really costs. */
  anon: number;
  /** RssFile: pages of files mapped (node's binary, shared libraries), shared with other processes. */
  file: number;
}

/** Reads /proc/PID/status (Linux). */
export async function readProcMemory(pid: number): Promise<ProcMemory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const mib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) / 1024;
  };
  return { rss: mib("VmRSS"), peak: mib("VmHWM"), anon: mib("RssAnon"), file: mib("RssFile") };
}
