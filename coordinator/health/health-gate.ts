import { HoistError } from "../../shared/errors/index.ts";
import type { AgentClient, HealthStatus } from "../../shared/proto/index.ts";

export interface HealthGateOptions {
  service: string;
  minHealthyMs: number;
  healthyDeadlineMs: number;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * The health gate of a node: the agent's standard `grpc.health.v1` Watch for the service must say
 * SERVING continuously for `minHealthyMs`, reached within `healthyDeadlineMs`. Any NOT_SERVING resets
 * the clock. Resolves when the gate holds; throws HEALTH_CHECK_FAILED naming the last status otherwise.
 */
export async function awaitHealthGate(client: AgentClient, options: HealthGateOptions): Promise<void> {
  const now = options.now ?? Date.now;
  // A timer and a controller, not AbortSignal.any([signal, AbortSignal.timeout(ms)]): on Node 20 the
  // timeout signal inside the composite can be garbage-collected before it fires (nodejs/node#57736),
  // and then the gate never ends (a rollout waiting for it hangs after its step deadline).
  const deadline = new AbortController();
  const deadlineTimer = setTimeout(() => deadline.abort(), options.healthyDeadlineMs);
  const onParentAbort = () => deadline.abort();
  if (options.signal?.aborted) deadline.abort();
  else options.signal?.addEventListener("abort", onParentAbort, { once: true });
  const signal = deadline.signal;
  const watch = new AbortController();
  signal.addEventListener("abort", () => watch.abort(), { once: true });
  let last: HealthStatus | "none" = "none";
  let servingSince: number | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  const held = new Promise<void>((resolve) => {
    const consume = async () => {
      // A Watch stream may end without the gate being over (agent restarted, connection reset): the
      // status is unknown then, so the clock resets and the gate watches again until its deadline.
      while (!watch.signal.aborted) {
        try {
          for await (const status of client.watch(options.service, { signal: watch.signal })) {
            last = status;
            if (holdTimer) clearTimeout(holdTimer);
            if (status === "SERVING") {
              servingSince ??= now();
              holdTimer = setTimeout(resolve, Math.max(0, options.minHealthyMs - (now() - servingSince)));
            } else {
              servingSince = undefined;
            }
          }
        } catch {
          // ended by the deadline or cancel (loop ends), or by the agent going away (watch again)
        }
        if (holdTimer) clearTimeout(holdTimer);
        servingSince = undefined;
        if (!watch.signal.aborted) await new Promise((retry) => setTimeout(retry, 250));
      }
    };
    void consume();
  });
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener(
      "abort",
      () => reject(new HoistError(options.signal?.aborted ? "CANCELLED" : "HEALTH_CHECK_FAILED", `${options.service} was not SERVING for ${options.minHealthyMs} ms within ${options.healthyDeadlineMs} ms (last status: ${last})`)),
      { once: true },
    );
  });
  aborted.catch(() => undefined);
  try {
    await Promise.race([held, aborted]);
  } finally {
    if (holdTimer) clearTimeout(holdTimer);
    clearTimeout(deadlineTimer);
    options.signal?.removeEventListener("abort", onParentAbort);
    watch.abort();
  }
}
