import type { ServerResponse } from "node:http";
import { toHoistError, type ErrorCode } from "../../shared/errors/index.ts";

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  WRONG_STATE: 409,
  CONFLICT: 409,
  TIMEOUT: 503,
  UNAVAILABLE: 503,
};

/** Sends `value` as JSON with no caching. */
export function replyJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Sends an error as `{ ok: false, error: { code, message, retryable } }` (the NATS replies' shape) with the HTTP status of its code. */
export function replyError(response: ServerResponse, err: unknown): void {
  const error = toHoistError(err);
  replyJson(response, STATUS_BY_CODE[error.code] ?? 500, { ok: false, error: { code: error.code, message: error.message, retryable: error.retryable } });
}
