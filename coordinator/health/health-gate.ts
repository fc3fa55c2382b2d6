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
  const deadline = AbortSignal.timeout(options.healthyDeadlineMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const watch = new AbortController();
  signal.addEventListener("abort", () => watch.abort(), { once: true });
  let last: HealthStatus | "none" = "none";
  let servingSince: number | undefined;
  let holdTimer: NodeJS.Timeout | undefined;
  const held = new Promise<void>((resolve) => {
    const consume = async () => {
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
        // the stream ended (deadline, cancel, agent gone): the outer race reports it
      }
    };
    void consume();
  });
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => reject(new HoistError(options.signal?.aborted ? "CANCELLED" : "HEALTH_CHECK_FAILED", `${options.service} was not SERVING for ${options.minHealthyMs} ms within ${options.healthyDeadlineMs} ms (last status: ${last})`)), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    await Promise.race([held, aborted]);
  } finally {
    if (holdTimer) clearTimeout(holdTimer);
    watch.abort();
  }
}
