import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createCallSignal, type CancellableCall } from "../agent/grpc/call-signal.ts";

/** A server call as createCallSignal sees it: a deadline and a "cancelled" event (what grpc-js emits when the client's RST_STREAM arrives). */
function serverCall(deadline: number): CancellableCall & { cancel(): void } {
  const events = new EventEmitter();
  let cancelled = false;
  return {
    get cancelled() {
      return cancelled;
    },
    getDeadline: () => deadline,
    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),
    cancel() {
      cancelled = true;
      events.emit("cancelled");
    },
  };
}

describe("the agent's signal for a gRPC call tells the client's deadline from the client's cancel", () => {
  it("the client's deadline passed first and its cancel arrives just before the server's deadline: TimeoutError, not CANCELLED", async () => {
    // The server's deadline is the client's plus the time the request took to arrive: the cancel
    // the client sends when its own deadline passes reaches the server shortly before its timer.
    const call = serverCall(Date.now() + 300);
    const { signal, dispose } = createCallSignal(call, new AbortController().signal);
    await sleep(250);
    call.cancel();
    dispose();
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).name).toBe("TimeoutError");
  });

  it("a cancel early in the call's budget is the client cancelling: CANCELLED", () => {
    const call = serverCall(Date.now() + 60_000);
    const { signal, dispose } = createCallSignal(call, new AbortController().signal);
    call.cancel();
    dispose();
    expect(signal.reason).toMatchObject({ code: "CANCELLED" });
  });

  it("a call without a deadline that is cancelled: CANCELLED", () => {
    const call = serverCall(Number.POSITIVE_INFINITY);
    const { signal, dispose } = createCallSignal(call, new AbortController().signal);
    call.cancel();
    dispose();
    expect(signal.reason).toMatchObject({ code: "CANCELLED" });
  });
});
