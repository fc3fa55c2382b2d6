import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import { runCommand, tailLines, type CommandResult } from "../exec/index.ts";
import type { DatabaseRunContext } from "./spec.ts";

/** Output kept of a query (row counts of many tables); more is an error rather than a wrong answer. */
const MAX_QUERY_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface ToolRun {
  /** What it does, for messages ("pg_dump of kv-db"). */
  what: string;
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
}

/**
 * Runs a database tool through the exec layer (no shell, own process group, clean env plus `env`,
 * tracked) and insists it succeeds. The password never appears in argv or env (only a file path).
 * @throws HoistError HOOK_FAILED naming the tool, how it ended and its last stderr lines;
 *   CANCELLED/TIMEOUT when the signal aborts.
 */
export async function runTool(run: ToolRun, ctx: DatabaseRunContext): Promise<CommandResult> {
  const result = await runCommand(run.argv, {
    cwd: run.cwd,
    env: run.env,
    timeoutMs: run.timeoutMs,
    maxOutputBytes: MAX_QUERY_OUTPUT_BYTES,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.tracker ? { tracker: ctx.tracker } : {}),
  });
  if (result.cancelled) throwIfAborted(ctx.signal);
  if (!result.timedOut && result.signal === null && result.exitCode === 0 && !result.truncated) return result;
  let how: string;
  if (result.timedOut) how = `timed out after ${run.timeoutMs} ms and was killed (raise the database's timeoutMs if it needs longer)`;
  else if (result.signal !== null) how = `was killed by ${result.signal}`;
  else if (result.exitCode !== 0) how = `exited with code ${result.exitCode}`;
  else how = `printed more than ${MAX_QUERY_OUTPUT_BYTES} bytes`;
  const stderrTail = tailLines(result.stderr) || tailLines(result.stdout);
  throw new HoistError("HOOK_FAILED", `${run.what} (${run.argv[0]}) ${how}: ${stderrTail || "(no output)"}`, {
    details: { what: run.what, program: run.argv[0], exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, stderrTail },
  });
}
