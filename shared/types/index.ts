export type { Progress, ProgressListener, WorkOptions } from "./progress.ts";
export type * from "./agent-api.ts";
