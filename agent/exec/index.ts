export { cleanEnv, CLEAN_PATH } from "./clean-env.ts";
export { killGroup, groupRuns, signalGroup } from "./process-group.ts";
export type { ProcessTracker } from "./process-tracker.ts";
export { runCommand, runHook, tailLines, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_KILL_GRACE_MS, DEFAULT_PIPE_GRACE_MS, type CommandResult, type RunCommandOptions, type HookSpec, type HookContext } from "./run-command.ts";
