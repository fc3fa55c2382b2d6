import type * as grpc from "@grpc/grpc-js";
import { HoistError } from "../../shared/errors/index.ts";

/** The part of a grpc-js server call this needs (grpc-js does not export ServerSurfaceCall). */
export interface CancellableCall {
  readonly cancelled: boolean;
  getDeadline(): grpc.Deadline;
  on(event: "cancelled", listener: () => void): unknown;
  off(event: "cancelled", listener: () => void): unknown;
}

/** An AbortSignal tied to one server call, and the function that unhooks it when the call settles. */
export interface CallSignal {
  signal: AbortSignal;
  dispose: () => void;
}

/** A cancel this close to the deadline is the client's deadline passing (at most this, and at most half the call's budget). */
const DEADLINE_SLACK_MS = 1000;

/**
 * Makes the signal handed to the agent for one call. It aborts when
 * - the call's deadline passes (reason: a TimeoutError DOMException, which toHoistError and
 *   throwIfAborted read as TIMEOUT),
 * - the client cancels or goes away (reason: HoistError CANCELLED); a cancel that arrives within
 *   DEADLINE_SLACK_MS (at most half the call's budget) before the deadline counts as the deadline:
 *   the client's deadline passes first (the server's is the client's plus the time the request took
 *   to arrive and be read), and the client's cancel then arrives before the server's own timer,
 *   more so under load,
 * - `parent` aborts, i.e. the server stops (its reason).
 * grpc-js also emits "cancelled" after a call ends normally, so call dispose() as soon as the
 * handler settles: it removes the listeners and the timer.
 */
export function createCallSignal(call: CancellableCall, parent: AbortSignal): CallSignal {
  const controller = new AbortController();
  const deadline = deadlineMs(call.getDeadline());
  const slackMs = Math.min(DEADLINE_SLACK_MS, Math.max(0, deadline - Date.now()) / 2);
  const timeout = () => new DOMException("the call's deadline passed", "TimeoutError");
  const onCancelled = () => {
    controller.abort(Date.now() >= deadline - slackMs ? timeout() : new HoistError("CANCELLED", "the client cancelled the call"));
  };
  const onParentAbort = () => controller.abort(parent.reason);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) {
    timer = setTimeout(() => controller.abort(timeout()), Math.max(0, deadline - Date.now()));
    timer.unref();
  }
  call.on("cancelled", onCancelled);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener("abort", onParentAbort, { once: true });
  if (call.cancelled) onCancelled();
  return {
    signal: controller.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      call.off("cancelled", onCancelled);
      parent.removeEventListener("abort", onParentAbort);
    },
  };
}

function deadlineMs(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
