import type { RolloutEvent } from "../rollout/events.ts";
import type { AnnouncementKind } from "./webhook-config.ts";

/** A rollout event worth telling people about. */
export interface Announcement {
  kind: AnnouncementKind;
  rollout: string;
  cluster: string;
  service?: string;
  to?: string;
  node?: string;
  phase: string;
  /** One line for humans. */
  text: string;
  /** The event as the HOIST_EVENTS stream carried it. */
  event: RolloutEvent;
}

function subject(event: RolloutEvent): string {
  const what = event.service ? `${event.service}${event.to ? ` -> ${event.to}` : ""}` : "upgrade";
  return `${what} on cluster ${event.cluster} (rollout ${event.rollout})`;
}

function kindOf(event: RolloutEvent): AnnouncementKind | undefined {
  if (event.type === "transition") {
    switch (event.phase) {
      case "preflight":
        return "started";
      case "succeeded":
      case "aborted":
        return "finished";
      case "failed":
        return "failed";
      case "reverted":
        return "rolled-back";
      default:
        return undefined;
    }
  }
  if (event.outcome === "ok") {
    if (event.step === "drain" || event.step === "stop") return "node-out-of-service";
    if (event.step === "rollback") return "rolled-back";
    return undefined;
  }
  if (event.outcome === "rolled-back") return "rolled-back";
  if (event.outcome === "failed" || event.outcome === "timed-out") return "failed";
  return undefined;
}

function textOf(kind: AnnouncementKind, event: RolloutEvent): string {
  const about = subject(event);
  const node = event.node ?? "?";
  switch (kind) {
    case "started":
      return `Upgrade started: ${about}`;
    case "node-out-of-service":
      return `Node ${node} is out of service for its upgrade (${event.step}): ${about}`;
    case "failed":
      return event.type === "step" ? `Upgrade step failed on node ${node}: ${about}: ${event.message}` : `Upgrade FAILED: ${about}: ${event.message}`;
    case "rolled-back":
      return event.type === "step" ? `Node ${node} was rolled back to its previous version: ${about}: ${event.message}` : `Upgrade rolled back: ${about}: ${event.message}`;
    case "finished":
      return event.phase === "succeeded" ? `Upgrade finished: ${about}: ${event.message}` : `Upgrade stopped (${event.phase}): ${about}: ${event.message}`;
  }
}

/** What to announce for one rollout event (pure); undefined for events nobody needs to hear about. */
export function classifyEvent(event: RolloutEvent): Announcement | undefined {
  const kind = kindOf(event);
  if (kind === undefined) return undefined;
  return {
    kind,
    rollout: event.rollout,
    cluster: event.cluster,
    ...(event.service === undefined ? {} : { service: event.service }),
    ...(event.to === undefined ? {} : { to: event.to }),
    ...(event.node === undefined ? {} : { node: event.node }),
    phase: event.phase,
    text: textOf(kind, event),
    event,
  };
}
