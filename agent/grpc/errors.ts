/**
 * The one place where Hoist errors become gRPC statuses. The status code comes from the error
 * catalogue (ERROR_CODES[code].grpc: bad input -> INVALID_ARGUMENT, wrong state -> FAILED_PRECONDITION,
 * timeout -> DEADLINE_EXCEEDED, BUSY -> ABORTED ...); the message becomes the status details; the
 * machine-readable code rides in trailers (`hoist-error-code`, `hoist-retryable`,
 * `hoist-error-details-bin`). Anything that is not a HoistError is a bug: INTERNAL, logged with its stack.
 */
import * as grpc from "@grpc/grpc-js";
import { ERROR_CODES, HoistError, toHoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { DETAILS_TRAILER, ERROR_CODE_TRAILER, RETRYABLE_TRAILER } from "../../shared/proto/index.ts";

/** What grpc-js accepts as a failed call (callback error, `emit("error")`, `sendStatus`). */
export interface GrpcErrorStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** Trailers above this size are dropped rather than risk the peer's header size limit. */
const MAX_DETAILS_BYTES = 4096;

/**
 * Maps any thrown value to a gRPC status with Hoist trailers. Foreign errors (and AbortError,
 * TimeoutError) go through toHoistError first. `overrideStatus` lets the auth layer answer
 * PERMISSION_DENIED for the UNAUTHENTICATED code (authenticated but not allowed).
 */
export function toGrpcStatus(err: unknown, options: { logger?: Logger; overrideStatus?: grpc.status } = {}): GrpcErrorStatus {
  const hoist = toHoistError(err);
  if (!(err instanceof HoistError) && hoist.code === "INTERNAL") {
    options.logger?.error({ err }, "unexpected error in a gRPC handler");
  }
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_TRAILER, hoist.code);
  metadata.set(RETRYABLE_TRAILER, String(hoist.retryable));
  const details = serializeDetails(hoist);
  if (details) metadata.set(DETAILS_TRAILER, details);
  const code = options.overrideStatus ?? grpc.status[ERROR_CODES[hoist.code].grpc];
  const message = hoist.code === "INTERNAL" && !(err instanceof HoistError) ? `internal error in the agent: ${hoist.message} (see the agent's log)` : hoist.message;
  return { code, details: message, metadata };
}

function serializeDetails(error: HoistError): Buffer | undefined {
  if (Object.keys(error.details).length === 0) return undefined;
  try {
    const json = Buffer.from(JSON.stringify(error.details), "utf8");
    return json.length <= MAX_DETAILS_BYTES ? json : undefined;
  } catch {
    return undefined;
  }
}
