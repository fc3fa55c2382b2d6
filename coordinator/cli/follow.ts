import type { NatsConnection, Subscription } from "nats";
import { clusterEventsFilter, decodeJson } from "../../shared/bus/index.ts";

interface EventLine {
  type?: string;
  node?: string;
  step?: string;
  message?: string;
  percent?: number;
  phase?: string;
}

/** Prints the cluster's live events (agent progress and rollout transitions) until stopped. */
export function followClusterEvents(nc: NatsConnection, cluster: string, write: (line: string) => void): Subscription {
  const subscription = nc.subscribe(clusterEventsFilter(cluster));
  void (async () => {
    for await (const message of subscription) {
      const event = decodeJson<EventLine>(message.data);
      const time = new Date().toISOString().slice(11, 19);
      if (event.type === "progress") {
        if (event.message === undefined) continue;
        write(`${time}  ${event.node ?? "?"}  [${event.step}] ${event.message}`);
      } else {
        write(`${time}  rollout  ${event.message ?? ""}${event.type === "transition" && event.phase ? `  (phase ${event.phase})` : ""}`);
      }
    }
  })();
  return subscription;
}
