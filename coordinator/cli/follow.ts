import type { NatsConnection, Subscription } from "nats";
import { clusterEventsFilter, decodeJson } from "../../shared/bus/index.ts";
import { formatProgress, formatProgressPlain, progressPhase, type ProgressLines } from "../../shared/format/index.ts";
import type { Progress } from "../../shared/types/index.ts";

interface EventLine extends Partial<Progress> {
  type?: string;
  node?: string;
  phase?: string;
}

/**
 * Prints the cluster's live events until stopped: agent progress as one line per node (updated in
 * place on a terminal, one line per step elsewhere: see createProgressLines), rollout transitions
 * as lines of their own. No timestamps: the rollout record and the event stream keep the times.
 */
export function followClusterEvents(nc: NatsConnection, cluster: string, lines: ProgressLines): Subscription {
  const subscription = nc.subscribe(clusterEventsFilter(cluster));
  void (async () => {
    for await (const message of subscription) {
      const event = decodeJson<EventLine>(message.data);
      if (event.type === "progress") {
        const node = event.node ?? "?";
        const progress: Progress = { ...event, step: event.step ?? "?" };
        lines.update(node, progressPhase(progress), `${node}  ${formatProgress(progress)}`, `${node}  ${formatProgressPlain(progress)}`);
      } else {
        lines.print(`rollout  ${event.message ?? ""}${event.type === "transition" && event.phase ? `  (phase ${event.phase})` : ""}`);
      }
    }
  })();
  return subscription;
}
