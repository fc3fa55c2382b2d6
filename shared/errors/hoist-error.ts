import { ERROR_CODES, type ErrorCode } from "./codes.ts";

export interface HoistErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  retryable?: boolean;
}

/** The one error class of Hoist: a code from the catalogue, a message a user can act on. */
export class HoistError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: HoistErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HoistError";
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }

  /** The shape sent on the wire (NATS replies, gRPC trailers, --json output). */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

/** Wraps anything thrown into a HoistError, keeping the original as `cause`. */
export function toHoistError(err: unknown, fallback: ErrorCode = "INTERNAL"): HoistError {
  if (err instanceof HoistError) return err;
  if (err instanceof Error && err.name === "AbortError") {
    const reason = (err as Error & { cause?: unknown }).cause;
    if (reason instanceof Error && reason.name === "TimeoutError") {
      return new HoistError("TIMEOUT", "the operation timed out", { cause: err });
    }
    return new HoistError("CANCELLED", "the operation was cancelled", { cause: err });
  }
  if (err instanceof Error && err.name === "TimeoutError") {
    return new HoistError("TIMEOUT", err.message, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HoistError(fallback, message, { cause: err });
}

/** Throws the signal's reason as a HoistError (TIMEOUT or CANCELLED) if it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (reason instanceof HoistError) throw reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    throw new HoistError("TIMEOUT", "the operation timed out", { cause: reason });
  }
  throw new HoistError("CANCELLED", "the operation was cancelled", { cause: reason });
}
