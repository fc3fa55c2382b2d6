import { SUBJECT_PREFIX } from "../bus/index.ts";

/**
 * Where unattended rollouts live. One KV bucket, `hoist_unattended`, keyed by cluster and service:
 *   CLUSTER.SERVICE.desired          the desired-state document (signed text), revisioned
 *   CLUSTER.SERVICE.control          suspend, quarantine, failures, holds, pins, rollback (CAS)
 *   CLUSTER.SERVICE.node.NODE        each agent's report: version, state, reason, next eligible time
 *   CLUSTER.SERVICE.slot.WAVE.N      the wave's slot N, created if absent, heartbeated by its holder
 *   CLUSTER.channel.NAME             the version a channel names
 * Changes are announced on a plain subject (no JetStream consumer per agent).
 */
export const KV_UNATTENDED = "hoist_unattended";
/** Catalogs pushed with `hoist release push`, key CLUSTER (or `_all`). */
export const KV_CATALOG = "hoist_catalog";
/** Artifacts pushed with `hoist release push`, object name = sha256. */
export const OBJECT_ARTIFACTS = "hoist_artifacts";

export function desiredKey(cluster: string, service: string): string {
  return `${cluster}.${service}.desired`;
}
export function controlKey(cluster: string, service: string): string {
  return `${cluster}.${service}.control`;
}
export function nodeReportKey(cluster: string, service: string, node: string): string {
  return `${cluster}.${service}.node.${node}`;
}
export function slotKey(cluster: string, service: string, wave: string, index: number): string {
  return `${cluster}.${service}.slot.${wave}.${index}`;
}
export function slotsFilter(cluster: string, service: string): string {
  return `${cluster}.${service}.slot.>`;
}
export function channelKey(cluster: string, channel: string): string {
  return `${cluster}.channel.${channel}`;
}
/** Every key of one service's rollout (desired, control, node reports, slots). */
export function rolloutFilter(cluster: string, service: string): string {
  return `${cluster}.${service}.>`;
}

/** The plain subject on which writers announce a change of CLUSTER/SERVICE (payload: what changed). */
export function unattendedNotifySubject(cluster: string, service: string): string {
  return `${SUBJECT_PREFIX}.${cluster}._unattended.notify.${service}`;
}

/** Where unattended transitions are published as events (captured by HOIST_EVENTS: `hoist.v1.*.*.events`). */
export function unattendedEventsSubject(cluster: string): string {
  return `${SUBJECT_PREFIX}.${cluster}._unattended.events`;
}

/** The url scheme of an artifact kept in the object store (`hoist release push`): `nats-object:SHA256`. */
export const OBJECT_URL_PREFIX = "nats-object:";

export function objectArtifactUrl(sha256: string): string {
  return `${OBJECT_URL_PREFIX}${sha256}`;
}

/** The sha256 of a `nats-object:` url, or undefined for any other url. */
export function objectArtifactSha(url: string): string | undefined {
  const match = /^nats-object:([0-9a-f]{64})$/.exec(url);
  return match?.[1];
}
