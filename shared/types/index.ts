export type { Progress, ProgressListener, WorkOptions } from "./progress.ts";
