/**
 * Keeps count of the child processes an agent runs (hooks, migrations, command probes, backups), so
 * that whoever owns the agent's state next can find and kill the ones this process left behind.
 * `runCommand` calls it; `ProcessLedger` (agent/state) is the implementation that writes them down.
 */
export interface ProcessTracker {
  /** Before the spawn: returns the run id put into the child's env as HOIST_RUN_ID. */
  willSpawn(argv: readonly string[]): string;
  /** The child runs with this pid, which is also its process group (it is spawned detached). */
  spawned(runId: string, pid: number): void;
  /** The command ended (or could not be started): nothing of it is left to kill. */
  ended(runId: string): void;
}
