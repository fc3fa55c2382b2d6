export { formatBytes, formatMs } from "./units.ts";
export { createProgressLines, type LineSink, type ProgressLines } from "./progress-lines.ts";
export { formatProgress, formatProgressPlain, progressPhase } from "./progress.ts";
