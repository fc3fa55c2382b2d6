import * as grpc from "@grpc/grpc-js";
import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { toGrpcStatus } from "./errors.ts";

/** Keeps the calls in flight on a server: logs each one's end, and ends the stragglers at stop. */
export interface CallTracker {
  /** First interceptor of the server: sees every call (refused ones included) and its status. */
  interceptor: grpc.ServerInterceptor;
  /** Calls not ended yet. */
  readonly active: number;
  /** Ends every call still open (health Watch streams, stuck handlers) with UNAVAILABLE and this message. */
  endAll(message: string): void;
}

interface Entry {
  method: string;
  call: grpc.ServerInterceptingCallInterface;
}

/**
 * Tracks calls with a server interceptor. Each call's end is logged once as
 * `{ method, peer, status, ms }`: debug when OK, info for Hoist errors, warn for INTERNAL/UNKNOWN.
 */
export function createCallTracker(logger: Logger): CallTracker {
  const entries = new Set<Entry>();
  const interceptor: grpc.ServerInterceptor = (method, call) => {
    const entry: Entry = { method: method.path, call };
    const started = performance.now();
    entries.add(entry);
    const listener = new grpc.ServerListenerBuilder().withOnCancel(() => entries.delete(entry)).build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        entries.delete(entry);
        const fields = {
          method: method.path,
          peer: call.getPeer(),
          status: grpc.status[status.code] ?? status.code,
          ms: Math.round(performance.now() - started),
        };
        if (status.code === grpc.status.OK) logger.debug(fields, "gRPC call done");
        else if (status.code === grpc.status.INTERNAL || status.code === grpc.status.UNKNOWN) logger.warn({ ...fields, details: status.details }, "gRPC call failed");
        else logger.info({ ...fields, details: status.details }, "gRPC call failed");
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
  return {
    interceptor,
    get active() {
      return entries.size;
    },
    endAll(message) {
      const status = toGrpcStatus(new HoistError("UNAVAILABLE", message));
      for (const entry of [...entries]) {
        entries.delete(entry);
        entry.call.sendStatus(status);
      }
    },
  };
}
