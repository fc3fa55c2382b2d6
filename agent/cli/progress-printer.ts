import { createProgressLines, formatProgress, formatProgressPlain, progressPhase, type LineSink } from "../../shared/format/index.ts";
import type { ProgressListener } from "../../shared/types/index.ts";

/**
 * Shows an operation's progress on stderr: on a terminal one line updated in place; elsewhere one
 * line per step (and per new message within it), never one per percent.
 */
export function createProgressPrinter(stream: LineSink = process.stderr): ProgressListener & { done(): void } {
  const lines = createProgressLines(stream);
  const printer: ProgressListener = (progress) => lines.update("operation", progressPhase(progress), formatProgress(progress), formatProgressPlain(progress));
  return Object.assign(printer, { done: () => lines.done() });
}
