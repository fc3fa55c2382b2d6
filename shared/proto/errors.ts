/**
 * How Hoist errors travel in gRPC trailers, and how a client turns a failed call back into a
 * HoistError. The server-side mapping (code -> status) lives in agent/grpc/errors.ts.
 */
import * as grpc from "@grpc/grpc-js";
import { ERROR_CODES, HoistError, type ErrorCode } from "../errors/index.ts";

/** Trailer with the Hoist error code, e.g. `BUSY`. */
export const ERROR_CODE_TRAILER = "hoist-error-code";
/** Trailer `true` or `false`: whether the same call may succeed when retried. */
export const RETRYABLE_TRAILER = "hoist-retryable";
/** Binary trailer with the error's details as a JSON object (omitted when empty or too big). */
export const DETAILS_TRAILER = "hoist-error-details-bin";

/** Code used when a failed call carries no Hoist trailer (another server, or the transport failed). */
const CODE_BY_STATUS: Partial<Record<grpc.status, ErrorCode>> = {
  [grpc.status.CANCELLED]: "CANCELLED",
  [grpc.status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [grpc.status.DEADLINE_EXCEEDED]: "TIMEOUT",
  [grpc.status.NOT_FOUND]: "NOT_FOUND",
  [grpc.status.PERMISSION_DENIED]: "UNAUTHENTICATED",
  [grpc.status.RESOURCE_EXHAUSTED]: "UNAVAILABLE",
  [grpc.status.FAILED_PRECONDITION]: "WRONG_STATE",
  [grpc.status.ABORTED]: "BUSY",
  [grpc.status.UNAVAILABLE]: "UNAVAILABLE",
  [grpc.status.UNAUTHENTICATED]: "UNAUTHENTICATED",
};

function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

/** A hint for the user, for failures that mostly come from how the client was pointed at the agent. */
function hintFor(status: grpc.status, target: string): string {
  switch (status) {
    case grpc.status.UNAVAILABLE:
      return `; check that the agent runs and listens on ${target}, and that TLS settings match the agent's (plaintext needs --insecure)`;
    case grpc.status.UNAUTHENTICATED:
      return "; pass the agent's token, or a client certificate signed by its client CA";
    case grpc.status.PERMISSION_DENIED:
      return "; the agent's grpc.tls.allowClients must list this client certificate's CN or DNS name";
    case grpc.status.UNIMPLEMENTED:
      return "; the agent is probably older than this client: upgrade it";
    default:
      return "";
  }
}

/**
 * Turns a failed call's status into a HoistError: code and retryable from the trailers when the
 * agent sent them, else derived from the gRPC status. details carry `grpcStatus` and `target`.
 */
export function hoistErrorFromStatus(error: Partial<grpc.StatusObject> & { message?: string }, target: string): HoistError {
  const status = error.code ?? grpc.status.UNKNOWN;
  const metadata = error.metadata;
  const trailerCode = String(metadata?.get(ERROR_CODE_TRAILER)[0] ?? "");
  const statusName = grpc.status[status] ?? String(status);
  const message = error.details || error.message || `call failed with ${statusName}`;
  const details: Record<string, unknown> = { ...readDetails(metadata), grpcStatus: statusName, target };
  if (isErrorCode(trailerCode)) {
    const retryable = String(metadata?.get(RETRYABLE_TRAILER)[0] ?? "") === "true";
    return new HoistError(trailerCode, message, { retryable, details, cause: error });
  }
  const code = CODE_BY_STATUS[status] ?? "INTERNAL";
  return new HoistError(code, `agent at ${target}: ${message}${hintFor(status, target)}`, { details, cause: error });
}

function readDetails(metadata: grpc.Metadata | undefined): Record<string, unknown> {
  const raw = metadata?.get(DETAILS_TRAILER)[0];
  if (!Buffer.isBuffer(raw)) return {};
  try {
    const parsed: unknown = JSON.parse(raw.toString("utf8"));
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
