import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode as NatsErrorCode, type NatsError } from "nats";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";

/** nats.js codes meaning "NATS or JetStream cannot answer right now": the server is down, restarting, or JetStream is not ready yet. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  NatsErrorCode.Timeout,
  NatsErrorCode.Disconnect,
  NatsErrorCode.NoResponders, // "503": also JetStream not (yet) available after a restart
  NatsErrorCode.ConnectionRefused,
  NatsErrorCode.ConnectionTimeout,
  NatsErrorCode.JetStream408RequestTimeout,
]);
/** nats.js codes meaning this connection is gone for good (the agent is stopping). */
const CLOSED_CODES: ReadonlySet<string> = new Set([NatsErrorCode.ConnectionClosed, NatsErrorCode.ConnectionDraining]);
/** JetStream API error: the revision given to update()/create() is not the key's last one. */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * Wraps a KV error at the boundary, keeping it as `cause`: CONFLICT (compare-and-set lost),
 * UNAVAILABLE retryable (NATS or JetStream down or not ready), UNAVAILABLE not retryable (the
 * connection is closed), INTERNAL otherwise.
 */
export function toKvError(err: unknown, what: string): HoistError {
  if (err instanceof HoistError) return err;
  const natsError = err as Partial<NatsError> & { api_error?: { err_code?: number } };
  const message = err instanceof Error ? err.message : String(err);
  if (natsError.api_error?.err_code === WRONG_LAST_SEQUENCE) return new HoistError("CONFLICT", `${what}: changed by someone else (${message})`, { cause: err });
  if (typeof natsError.code === "string" && TRANSIENT_CODES.has(natsError.code)) {
    return new HoistError("UNAVAILABLE", `${what}: NATS did not answer (${natsError.code})`, { cause: err });
  }
  if (typeof natsError.code === "string" && CLOSED_CODES.has(natsError.code)) {
    return new HoistError("UNAVAILABLE", `${what}: the NATS connection is closed`, { cause: err, retryable: false });
  }
  return new HoistError("INTERNAL", `${what}: ${message}`, { cause: err });
}

export interface KvRetryOptions {
  logger?: Logger;
  /** First pause after a failure; doubles up to maxDelayMs. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Give up (throwing the last error) once this much time has passed; default never. */
  budgetMs?: number;
  /** Called at every failure that is retried (e.g. to forget what was observed before the outage). */
  onRetry?: (error: HoistError) => void;
}

/**
 * Runs a KV operation, retrying with back-off (and jitter) while NATS is unavailable; bounded by
 * `signal` (throws its reason) and by `budgetMs`. Every other error — CONFLICT, a closed connection,
 * INTERNAL — is thrown at once, as a HoistError. Logs one warning per outage ("waiting for NATS").
 */
export async function withKvRetry<T>(what: string, operation: () => Promise<T>, options: KvRetryOptions, { signal }: { signal?: AbortSignal } = {}): Promise<T> {
  const started = Date.now();
  let delay = options.firstDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    try {
      const result = await operation();
      if (attempt > 1) options.logger?.warn({ what, attempts: attempt }, "NATS answered again");
      return result;
    } catch (err) {
      const error = toKvError(err, what);
      if (error.code !== "UNAVAILABLE" || !error.retryable) throw error;
      if (options.budgetMs !== undefined && Date.now() - started >= options.budgetMs) throw error;
      options.onRetry?.(error);
      if (attempt === 1) options.logger?.warn({ what, err: error }, `waiting for NATS: ${what}`);
      await sleep(delay * (0.75 + Math.random() / 2), undefined, signal ? { signal } : {}).catch(() => undefined);
      delay = Math.min(delay * 2, options.maxDelayMs ?? 5000);
    }
  }
}
