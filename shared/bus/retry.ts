import { setTimeout as sleep } from "node:timers/promises";
import { HoistError, type ErrorCode } from "../errors/index.ts";

/** JetStream's err_code for a compare-and-set that lost: "wrong last sequence" (KV update/create). */
const JS_WRONG_LAST_SEQUENCE = 10071;

/** Client-side nats.js codes (ErrorCode) that mean "NATS is not reachable right now". */
const TRANSIENT_CLIENT_CODES = new Set(["TIMEOUT", "503", "408", "DISCONNECT", "CONNECTION_REFUSED", "CONNECTION_TIMEOUT"]);
/** The connection is gone for good (closed, or closing): retrying on it cannot help. */
const CLOSED_CLIENT_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_DRAINING"]);

interface NatsLikeError {
  code?: unknown;
  message?: unknown;
  api_error?: { code?: number; err_code?: number; description?: string };
}

/**
 * Translates an error thrown by nats.js (core request, JetStream API, KV) into a HoistError, by
 * code, never by message text:
 * - a lost compare-and-set (JetStream err_code 10071) -> CONFLICT;
 * - a request timeout ("TIMEOUT", "408") -> TIMEOUT, retryable;
 * - no responders ("503": JetStream not up yet, or no leader while a replicated stream elects one),
 *   a disconnect, a JetStream API error of class 5xx (stream offline, system temporarily
 *   unavailable) -> UNAVAILABLE, retryable;
 * - a closed or draining connection -> UNAVAILABLE, not retryable;
 * - a HoistError is returned as it is; anything else -> `fallback`.
 * `what` names the operation in the message ("reading rollout r1").
 */
export function toBusError(err: unknown, what: string, fallback: ErrorCode = "INTERNAL"): HoistError {
  if (err instanceof HoistError) return err;
  const nats = (typeof err === "object" && err !== null ? err : {}) as NatsLikeError;
  const code = typeof nats.code === "string" ? nats.code : undefined;
  const api = nats.api_error;
  const detail = api?.description ?? (typeof nats.message === "string" ? nats.message : String(err));
  if (api?.err_code === JS_WRONG_LAST_SEQUENCE) return new HoistError("CONFLICT", `${what}: changed by someone else first (${detail})`, { cause: err });
  if (api && typeof api.code === "number" && api.code >= 500) {
    return new HoistError("UNAVAILABLE", `${what}: JetStream is not available (${detail})`, { cause: err, retryable: true, details: { natsCode: api.code, errCode: api.err_code } });
  }
  if (code !== undefined && TRANSIENT_CLIENT_CODES.has(code)) {
    const timeout = code === "TIMEOUT" || code === "408";
    return new HoistError(timeout ? "TIMEOUT" : "UNAVAILABLE", `${what}: NATS did not answer (${code})`, { cause: err, retryable: true, details: { natsCode: code } });
  }
  if (code !== undefined && CLOSED_CLIENT_CODES.has(code)) {
    return new HoistError("UNAVAILABLE", `${what}: the NATS connection is closed (${code})`, { cause: err, retryable: false, details: { natsCode: code } });
  }
  return new HoistError(fallback, `${what}: ${detail}`, { cause: err });
}

/** True for trouble that waiting can cure: NATS or JetStream briefly unreachable. CONFLICT is an answer, not trouble. */
export function isTransientBusError(err: unknown): boolean {
  const error = toBusError(err, "");
  return error.retryable && (error.code === "TIMEOUT" || error.code === "UNAVAILABLE");
}

export interface BusWait {
  /** What is being retried ("saving rollout r1"). */
  what: string;
  error: HoistError;
  attempt: number;
  /** Since the first failure. */
  waitedMs: number;
  budgetMs: number;
}

export interface RetryBusOptions {
  /** Give up this long after the first failure (default 20 s). */
  budgetMs?: number;
  /** First pause (default 250 ms); doubles up to `maxDelayMs` (default 2 s), with jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** One try may take this long before it counts as a TIMEOUT (for calls that can hang, like KV key listings). */
  attemptTimeoutMs?: number;
  /** Called at the first failure and then about every 5 s while retrying: say "waiting for NATS". */
  onWait?: (wait: BusWait) => void;
  signal?: AbortSignal;
}

/**
 * Runs `fn` until it succeeds, retrying with back-off while it fails with transient bus trouble
 * (`isTransientBusError`), within `budgetMs`. Other errors (CONFLICT included) are thrown at once,
 * translated by `toBusError`. When the budget runs out: UNAVAILABLE naming `what`, the time waited
 * and the last error (as cause). CANCELLED when `signal` aborts.
 */
export async function retryBus<T>(what: string, fn: () => Promise<T>, options: RetryBusOptions = {}): Promise<T> {
  const budgetMs = options.budgetMs ?? 20_000;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  let delayMs = options.initialDelayMs ?? 250;
  let firstFailure: number | undefined;
  let lastNotice = 0;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new HoistError("CANCELLED", `${what}: cancelled`, { cause: options.signal.reason });
    let error: HoistError;
    try {
      return await withAttemptTimeout(fn, options.attemptTimeoutMs);
    } catch (err) {
      error = toBusError(err, what);
      if (!isTransientBusError(error)) throw error;
    }
    const now = Date.now();
    firstFailure ??= now;
    const waitedMs = now - firstFailure;
    if (waitedMs >= budgetMs) {
      throw new HoistError("UNAVAILABLE", `${what}: NATS/JetStream did not answer for ${Math.round(waitedMs / 1000)} s (${attempt} tries; last: ${error.code}: ${error.message}); check that nats-server is up and reachable`, {
        cause: error,
        retryable: false,
      });
    }
    if (attempt === 1 || now - lastNotice >= 5000) {
      lastNotice = now;
      options.onWait?.({ what, error, attempt, waitedMs, budgetMs });
    }
    const pause = Math.min(delayMs, budgetMs - waitedMs) * (0.8 + Math.random() * 0.4);
    delayMs = Math.min(maxDelayMs, delayMs * 2);
    try {
      await sleep(Math.max(0, pause), undefined, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      throw new HoistError("CANCELLED", `${what}: cancelled while waiting for NATS`, { cause: err });
    }
  }
}

async function withAttemptTimeout<T>(fn: () => Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined) return fn();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HoistError("TIMEOUT", `no answer within ${timeoutMs} ms`, { retryable: true })), timeoutMs);
  });
  try {
    return await Promise.race([fn(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The line operators see while a command waits on NATS. */
export function formatBusWait(wait: BusWait): string {
  return `waiting for NATS: ${wait.what} failed (${wait.error.code}: ${wait.error.message}); retrying for up to ${Math.round((wait.budgetMs - wait.waitedMs) / 1000)} s more`;
}
