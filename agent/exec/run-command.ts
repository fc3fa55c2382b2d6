import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { access, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import { publishHookFailed } from "../metrics/channels.ts";
import { cleanEnv } from "./clean-env.ts";
import { killGroup } from "./process-group.ts";
import { resolveRunAs } from "./run-as.ts";
import type { ProcessTracker } from "./process-tracker.ts";

/** Default cap of captured output, per stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
/** Time between SIGTERM and SIGKILL to the process group when a command is stopped. */
export const DEFAULT_KILL_GRACE_MS = 2000;
/** How long to keep reading after the direct child exited while something else still holds its pipes. */
export const DEFAULT_PIPE_GRACE_MS = 500;

export interface RunCommandOptions {
  /** Working directory; a relative argv[0] with a slash (`bin/start`) resolves against it. */
  cwd: string;
  /** Added on top of the clean environment (see `cleanEnv`); nothing of `process.env` is passed. */
  env?: Record<string, string>;
  /** The command (and its whole process group) is killed after this long; `timedOut` is then true. */
  timeoutMs: number;
  /** Bytes kept of stdout and of stderr each (the first ones); the rest is read and dropped. */
  maxOutputBytes?: number;
  /** Aborting kills the whole process group; the result then has `cancelled: true`. */
  signal?: AbortSignal;
  /**
   * Told of the child before it is spawned (its id goes into the child's env as HOIST_RUN_ID) and
   * once it runs (its pid, which is also its process group), so that a later owner of the agent's
   * state can kill it if this process dies first.
   */
  tracker?: ProcessTracker;
  /** Run as this system user (name or uid; see resolveRunAs): only root can switch. */
  user?: string;
  /** SIGTERM -> SIGKILL grace when killing; default 2 s. */
  killGraceMs?: number;
  /** Grace for pipes held open by a grandchild after the child exited; default 500 ms. */
  pipeGraceMs?: number;
}

export interface CommandResult {
  /** Exit code, or null when the process was ended by a signal. */
  exitCode: number | null;
  /** Signal that ended the process (e.g. "SIGTERM"), or null. */
  signal: string | null;
  /** Killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** Killed because the caller's signal was aborted. */
  cancelled: boolean;
  stdout: string;
  stderr: string;
  /** Some output (of either stream) was dropped beyond `maxOutputBytes`. */
  truncated: boolean;
  durationMs: number;
}

/**
 * Runs `argv` without a shell, in a clean environment and in its own process group, and returns
 * how it ended. A non-zero exit, a timeout or a cancel is a result, not an error: callers decide
 * (`runHook` turns them into HOOK_FAILED).
 *
 * - argv[0]: absolute, relative with a slash (against `cwd`), or a bare name looked up on the
 *   clean PATH (or the PATH given in `env`).
 * - On timeout or abort the whole group gets SIGTERM, then SIGKILL after `killGraceMs`, so
 *   grandchildren die too. A process that left the group (`setsid`) is not touched.
 * - Output is bounded: the first `maxOutputBytes` of each stream are kept, the rest is drained.
 * - It resolves once the child has exited and its pipes closed; if a grandchild keeps the pipes
 *   open after the child exited (a daemon that forgot to close stdout), the pipes are destroyed
 *   after `pipeGraceMs` instead of waiting for it. That grandchild is left running.
 *
 * @throws HoistError HOOK_FAILED when the program cannot be started (not found, not executable,
 *   missing cwd); INVALID_ARGUMENT for an empty argv; CANCELLED/TIMEOUT when `signal` is
 *   already aborted (nothing is started then).
 */
export async function runCommand(argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const program = argv[0];
  if (program === undefined || program === "") throw new HoistError("INVALID_ARGUMENT", "a command needs at least a program name");
  throwIfAborted(options.signal);
  const runAs = options.user === undefined ? undefined : resolveRunAs(options.user);
  const env: Record<string, string> = { ...cleanEnv(options.env), ...(runAs ? { HOME: runAs.home, USER: runAs.name, LOGNAME: runAs.name } : {}) };
  await assertDirectory(options.cwd, program);
  const file = await resolveProgram(program, options.cwd, env.PATH ?? "");
  throwIfAborted(options.signal);

  const started = performance.now();
  const runId = options.tracker?.willSpawn(argv);
  let child: ChildProcess;
  try {
    child = spawn(file, argv.slice(1), {
      cwd: options.cwd,
      env: runId === undefined ? env : { ...env, HOIST_RUN_ID: runId },
      argv0: program,
      shell: false,
      detached: true,
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    if (runId !== undefined) options.tracker?.ended(runId);
    // Thrown synchronously for bad arguments (a NUL byte) or no file descriptors left (EMFILE).
    throw spawnError(err as NodeJS.ErrnoException, program, file, options.cwd);
  }
  if (runId !== undefined && child.pid !== undefined) options.tracker?.spawned(runId, child.pid);
  const supervised = supervise(child, superviseOptions(program, file, started, options));
  return runId === undefined ? supervised : supervised.finally(() => options.tracker?.ended(runId));
}

function superviseOptions(program: string, file: string, started: number, options: RunCommandOptions): SuperviseOptions {
  return {
    program,
    file,
    cwd: options.cwd,
    started,
    timeoutMs: options.timeoutMs,
    limit: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    signal: options.signal,
    killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    pipeGraceMs: options.pipeGraceMs ?? DEFAULT_PIPE_GRACE_MS,
  };
}

interface SuperviseOptions {
  program: string;
  file: string;
  cwd: string;
  started: number;
  timeoutMs: number;
  limit: number;
  signal: AbortSignal | undefined;
  killGraceMs: number;
  pipeGraceMs: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function supervise(child: ChildProcess, o: SuperviseOptions): Promise<CommandResult> {
  return new Promise<CommandResult>((resolvePromise, rejectPromise) => {
    const stdout = new Capture(o.limit);
    const stderr = new Capture(o.limit);
    const open = new Set<Readable>();
    let exit: { code: number | null; signal: string | null } | undefined;
    let timedOut = false;
    let cancelled = false;
    let killing: "no" | "running" | "done" = "no";
    let settled = false;
    let pipeTimer: NodeJS.Timeout | undefined;

    const timeoutTimer = setTimeout(() => terminate("timeout"), Math.min(o.timeoutMs, MAX_TIMER_MS));
    const onAbort = (): void => terminate("abort");
    o.signal?.addEventListener("abort", onAbort, { once: true });
    if (o.signal?.aborted) terminate("abort");

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timeoutTimer);
      if (pipeTimer) clearTimeout(pipeTimer);
      o.signal?.removeEventListener("abort", onAbort);
    };

    const maybeFinish = (): void => {
      if (settled || exit === undefined || open.size > 0 || killing === "running") return;
      cleanup();
      resolvePromise({
        exitCode: exit.code,
        signal: exit.signal,
        timedOut,
        cancelled,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated || stderr.truncated,
        durationMs: Math.round(performance.now() - o.started),
      });
    };

    function terminate(why: "timeout" | "abort"): void {
      if (settled || exit !== undefined || killing !== "no" || child.pid === undefined) return;
      timedOut = why === "timeout";
      cancelled = why === "abort";
      killing = "running";
      void killGroup(child.pid, o.killGraceMs).then(() => {
        killing = "done";
        maybeFinish();
      });
    }

    for (const [stream, capture] of [
      [child.stdout, stdout],
      [child.stderr, stderr],
    ] as const) {
      if (!stream) continue;
      open.add(stream);
      stream.on("data", (chunk: Buffer) => capture.push(chunk));
      stream.on("error", () => undefined);
      stream.once("close", () => {
        open.delete(stream);
        maybeFinish();
      });
    }

    child.once("error", (err: NodeJS.ErrnoException) => {
      // After a successful spawn, 'error' only reports failed kill() calls, which we do not make.
      if (child.pid !== undefined || settled) return;
      cleanup();
      for (const stream of open) stream.destroy();
      rejectPromise(spawnError(err, o.program, o.file, o.cwd));
    });

    child.once("exit", (code, signal) => {
      exit = { code, signal };
      if (open.size > 0) {
        pipeTimer = setTimeout(() => {
          for (const stream of open) stream.destroy();
        }, o.pipeGraceMs);
      }
      maybeFinish();
    });
  });
}

/** Keeps the first `limit` bytes of a stream and counts what it drops. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.bytes;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      return;
    }
    this.truncated = true;
    if (room > 0) {
      this.chunks.push(Buffer.from(chunk.subarray(0, room)));
      this.bytes += room;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

async function assertDirectory(cwd: string, program: string): Promise<void> {
  const info = await stat(cwd).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new HoistError("HOOK_FAILED", `cannot run ${program}: working directory ${cwd} does not exist or is not a directory`, {
      details: { program, cwd },
    });
  }
}

/** Absolute path of the program: as given, against cwd when it has a slash, else from PATH. */
async function resolveProgram(program: string, cwd: string, path: string): Promise<string> {
  if (isAbsolute(program)) return program;
  if (program.includes("/")) return resolve(cwd, program);
  for (const dir of path.split(":")) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not in this dir
    }
  }
  throw new HoistError("HOOK_FAILED", `cannot run ${program} (cwd ${cwd}): not found on PATH ${path}; install it or give a path such as bin/${program} relative to the release dir`, {
    details: { program, cwd, path, errno: "ENOENT" },
  });
}

function spawnError(err: NodeJS.ErrnoException, program: string, file: string, cwd: string): HoistError {
  let why: string;
  if (err.code === "ENOENT") {
    why = existsSync(file) ? `${file} exists but the interpreter on its #! line does not` : `${file} does not exist`;
  } else if (err.code === "EACCES") {
    why = `${file} is not executable (check its mode, e.g. chmod +x, and that its filesystem is not mounted noexec)`;
  } else {
    why = err.message;
  }
  return new HoistError("HOOK_FAILED", `cannot run ${program} (cwd ${cwd}): ${why}`, {
    cause: err,
    details: { program, file, cwd, errno: err.code },
  });
}

export interface HookSpec {
  run: readonly string[];
  timeoutMs: number;
  /** Run as this user; overrides `HookContext.user`. */
  user?: string;
}

export interface HookContext {
  /** Usually the active release dir (the `current` symlink). */
  cwd: string;
  /** The service's env, added on top of the clean environment. */
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Records the hook's process group while it runs (see ProcessTracker). */
  tracker?: ProcessTracker;
  /** The service's user, for hooks that name none of their own. */
  user?: string;
}

/**
 * Runs a configured hook (start, stop, drain, rejoin, migration) and insists it succeeds.
 *
 * @throws HoistError HOOK_FAILED when it cannot be started, exits non-zero, is killed by a signal
 *   or runs past `hook.timeoutMs` (then its whole process group is killed); the message names the
 *   hook, its argv and the last lines of its stderr, `details` has
 *   `{ hook, argv, exitCode, signal, timedOut, stderrTail, durationMs }`.
 * @throws HoistError CANCELLED or TIMEOUT when `ctx.signal` aborts (per its reason).
 */
export async function runHook(name: string, hook: HookSpec, ctx: HookContext): Promise<CommandResult> {
  const shown = hook.run.join(" ");
  let result: CommandResult;
  try {
    const user = hook.user ?? ctx.user;
    result = await runCommand(hook.run, { cwd: ctx.cwd, env: ctx.env, timeoutMs: hook.timeoutMs, signal: ctx.signal, ...(ctx.tracker ? { tracker: ctx.tracker } : {}), ...(user === undefined ? {} : { user }) });
  } catch (err) {
    if (err instanceof HoistError && err.code === "HOOK_FAILED") {
      publishHookFailed(name, ctx.env);
      throw new HoistError("HOOK_FAILED", `hook ${name}: ${err.message}`, { cause: err, details: { hook: name, argv: hook.run, ...err.details } });
    }
    throw err;
  }
  if (result.cancelled) throwIfAborted(ctx.signal);
  if (!result.timedOut && result.signal === null && result.exitCode === 0) return result;

  const stderrTail = tailLines(result.stderr) || tailLines(result.stdout);
  publishHookFailed(name, ctx.env);
  let how: string;
  if (result.timedOut) how = `timed out after ${hook.timeoutMs} ms and was killed (raise timeoutMs if it needs longer)`;
  else if (result.signal !== null) how = `was killed by ${result.signal}`;
  else how = `exited with code ${result.exitCode}`;
  throw new HoistError("HOOK_FAILED", `hook ${name} (${shown}) ${how}: ${stderrTail || "(no output)"}`, {
    details: {
      hook: name,
      argv: hook.run,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      stderrTail,
      durationMs: result.durationMs,
    },
  });
}

/** The last `lines` non-empty lines of `text`, at most `maxChars` characters. */
export function tailLines(text: string, lines = 10, maxChars = 2000): string {
  const kept = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-lines)
    .join("\n");
  return kept.length > maxChars ? `…${kept.slice(-maxChars)}` : kept;
}
