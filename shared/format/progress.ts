import type { Progress } from "../types/index.ts";
import { formatBytes } from "./units.ts";

/** One line of progress: `[step] 42% 10.0 MiB/24.0 MiB message`. */
export function formatProgress(progress: Progress): string {
  const parts = [`[${progress.step}]`];
  if (progress.percent !== undefined) parts.push(`${Math.round(progress.percent)}%`);
  if (progress.bytes !== undefined) parts.push(progress.totalBytes ? `${formatBytes(progress.bytes)}/${formatBytes(progress.totalBytes)}` : formatBytes(progress.bytes));
  if (progress.message) parts.push(progress.message);
  return parts.join(" ");
}

/** A progress report without its counters, for output that is not a terminal: `[step] message`. */
export function formatProgressPlain(progress: Progress): string {
  return progress.message ? `[${progress.step}] ${progress.message}` : `[${progress.step}]`;
}

/**
 * The phase of a progress report: its step and its message with the numbers taken out. Percent and
 * byte counters, and messages that differ only in their numbers ("healthy for 110 of 500 ms"),
 * are updates within one phase; output that is not a terminal prints one line per phase.
 */
export function progressPhase(progress: Progress): string {
  return `${progress.step}\n${(progress.message ?? "").replace(/\d+/g, "#")}`;
}
