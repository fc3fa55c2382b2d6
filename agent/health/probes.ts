import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import type { ProbeConfig } from "../config.ts";
import { runCommand, tailLines, type ProcessTracker } from "../exec/index.ts";
import { checkLogProbe, LogProbeState } from "./log-probe.ts";

/** The outcome of one probe check. */
export interface ProbeResult {
  healthy: boolean;
  /** Set when waiting longer cannot help (a fail line in the log): callers stop at once. */
  fatal?: boolean;
  /** Short label naming the probe, e.g. "http http://127.0.0.1:8080/healthz". */
  probe: string;
  /** What was seen: "HTTP 200", "connect ECONNREFUSED 127.0.0.1:9", "exit 1: not ready" ... */
  detail: string;
}

export interface ProbeContext {
  /** Working dir of command probes (usually the active release dir). */
  cwd: string;
  /** The service's env for command probes, on top of the clean environment. */
  env: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Log probes: where to read from. Without it the whole current file is read (one-shot check),
   * so pass a state made with `createLogProbeState` before the lines of interest were written.
   */
  logState?: LogProbeState;
  /** Records command probes while they run (see ProcessTracker). */
  tracker?: ProcessTracker;
  /** Command probes run as this user (the service's `user`). */
  user?: string;
}

/** The label used in results and error messages. */
export function probeLabel(probe: ProbeConfig): string {
  switch (probe.type) {
    case "http":
      return `http ${probe.url}`;
    case "tcp":
      return `tcp ${probe.host}:${probe.port}`;
    case "command":
      return `command ${probe.run.join(" ")}`;
    case "log":
      return `log ${probe.file}`;
  }
}

/**
 * Checks one probe once, bounded by the probe's own timeout.
 *
 * - http: GET without redirects on a fresh connection; healthy when the status is `expectStatus`.
 * - tcp: healthy when a connection is accepted within the timeout.
 * - command: healthy when it exits 0 within the timeout (then its process group is killed).
 * - log: see `checkLogProbe`; needs `ctx.logState` to count only new lines.
 *
 * A failing probe is a result, not an error.
 * @throws HoistError CANCELLED or TIMEOUT only when `ctx.signal` aborts.
 */
export async function checkProbe(probe: ProbeConfig, ctx: ProbeContext): Promise<ProbeResult> {
  throwIfAborted(ctx.signal);
  const label = probeLabel(probe);
  let outcome: { healthy: boolean; fatal?: boolean; detail: string };
  switch (probe.type) {
    case "http":
      outcome = await checkHttp(probe.url, probe.expectStatus, probe.timeoutMs, ctx.signal);
      break;
    case "tcp":
      outcome = await checkTcp(probe.host, probe.port, probe.timeoutMs, ctx.signal);
      break;
    case "command":
      outcome = await checkCommand(probe.run, probe.timeoutMs, ctx);
      break;
    case "log": {
      const state = ctx.logState ?? new LogProbeState(probe.file, 0, undefined);
      outcome = await checkLogProbe(probe, state);
      break;
    }
  }
  throwIfAborted(ctx.signal);
  return { probe: label, ...outcome };
}

type Outcome = { healthy: boolean; detail: string };

function checkHttp(url: string, expectStatus: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ healthy: false, detail: `invalid URL ${url}` });
      return;
    }
    // A local controller instead of AbortSignal.any: the monitor's parent signal lives for months,
    // and a listener we remove ourselves cannot pile up on it.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (outcome: Outcome): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onResponse = (response: IncomingMessage): void => {
      const status = response.statusCode ?? 0;
      response.destroy();
      finish(status === expectStatus ? { healthy: true, detail: `HTTP ${status}` } : { healthy: false, detail: `HTTP ${status}, expected ${expectStatus}` });
    };
    const request = parsed.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(parsed, { method: "GET", agent: false, signal: controller.signal, headers: { "user-agent": "hoist-health-probe", connection: "close" } }, onResponse);
    req.on("error", (err) => finish({ healthy: false, detail: timedOut ? `no response within ${timeoutMs} ms` : err.message }));
    req.end();
  });
}

function checkTcp(host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const socket = connect({ host, port });
    const finish = (outcome: Outcome): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ healthy: false, detail: "cancelled" });
    const timer = setTimeout(() => finish({ healthy: false, detail: `no connection within ${timeoutMs} ms` }), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish({ healthy: true, detail: "connected" }));
    socket.once("error", (err) => finish({ healthy: false, detail: err.message }));
  });
}

async function checkCommand(run: readonly string[], timeoutMs: number, ctx: ProbeContext): Promise<Outcome> {
  try {
    const result = await runCommand(run, {
      cwd: ctx.cwd,
      env: ctx.env,
      timeoutMs,
      signal: ctx.signal,
      maxOutputBytes: 8 * 1024,
      killGraceMs: 500,
      ...(ctx.tracker ? { tracker: ctx.tracker } : {}),
      ...(ctx.user === undefined ? {} : { user: ctx.user }),
    });
    if (result.timedOut) return { healthy: false, detail: `no result within ${timeoutMs} ms (killed)` };
    if (result.cancelled) return { healthy: false, detail: "cancelled" };
    const tail = tailLines(result.stderr, 3, 300) || tailLines(result.stdout, 3, 300);
    if (result.signal !== null) return { healthy: false, detail: `killed by ${result.signal}${tail ? `: ${tail}` : ""}` };
    if (result.exitCode === 0) return { healthy: true, detail: "exit 0" };
    return { healthy: false, detail: `exit ${result.exitCode}${tail ? `: ${tail}` : ""}` };
  } catch (err) {
    if (err instanceof HoistError && err.code === "HOOK_FAILED") return { healthy: false, detail: err.message };
    throw err;
  }
}
