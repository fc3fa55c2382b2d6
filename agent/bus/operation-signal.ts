import { HoistError } from "../../shared/errors/index.ts";
import { commandBoundsSchema, parseMessage } from "../../shared/bus/index.ts";

export interface OperationSignal {
  signal: AbortSignal;
  /** Aborts the operation with `reason` (a HoistError the outcome then carries). */
  abort(reason: HoistError): void;
  /** Clears the deadline timer; call when the command has settled. */
  dispose(): void;
}

/**
 * The signal of one command's operation: aborted when the agent stops (`parent`), when the command's
 * deadline passes (TIMEOUT), or by abort(). The deadline is a plain timer cleared by dispose(), not
 * AbortSignal.timeout (which Node 20 may lose inside AbortSignal.any, nodejs/node#57736).
 */
export function operationSignal(payload: unknown, parent: AbortSignal, what: string): OperationSignal {
  const { deadlineMs } = parseMessage(commandBoundsSchema, payload);
  const controller = new AbortController();
  const onParent = () => controller.abort(new HoistError("CANCELLED", `${what} was cancelled: the agent is stopping`));
  if (parent.aborted) onParent();
  else parent.addEventListener("abort", onParent, { once: true });
  const timer = deadlineMs === undefined ? undefined : setTimeout(() => controller.abort(new HoistError("TIMEOUT", `${what} did not finish within the step's deadline (${deadlineMs} ms); stopped`)), deadlineMs);
  timer?.unref();
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose() {
      if (timer) clearTimeout(timer);
      parent.removeEventListener("abort", onParent);
    },
  };
}
