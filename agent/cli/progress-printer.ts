import { formatBytes } from "../../shared/format/index.ts";
import type { Progress, ProgressListener } from "../../shared/types/index.ts";

/** One line of progress: `[step] 42% 10.0 MiB/24.0 MiB message`. */
export function formatProgress(progress: Progress): string {
  const parts = [`[${progress.step}]`];
  if (progress.percent !== undefined) parts.push(`${Math.round(progress.percent)}%`);
  if (progress.bytes !== undefined) parts.push(progress.totalBytes ? `${formatBytes(progress.bytes)}/${formatBytes(progress.totalBytes)}` : formatBytes(progress.bytes));
  if (progress.message) parts.push(progress.message);
  return parts.join(" ");
}

/**
 * Shows progress on stderr: on a terminal one line rewritten in place (byte counters) with each
 * message kept; elsewhere one line per message, byte-only updates throttled to one a second.
 */
export function createProgressPrinter(stream: NodeJS.WriteStream = process.stderr): ProgressListener & { done(): void } {
  const tty = stream.isTTY === true;
  let transient = false;
  let lastPlain = 0;
  const printer = (progress: Progress) => {
    const line = formatProgress(progress);
    const onlyCounters = progress.message === undefined;
    if (tty) {
      if (transient) stream.write("\r\x1b[K");
      stream.write(onlyCounters ? line : `${line}\n`);
      transient = onlyCounters;
      return;
    }
    const now = Date.now();
    if (onlyCounters && now - lastPlain < 1000) return;
    lastPlain = now;
    stream.write(`${line}\n`);
  };
  return Object.assign(printer, {
    done() {
      if (tty && transient) stream.write("\n");
      transient = false;
    },
  });
}
