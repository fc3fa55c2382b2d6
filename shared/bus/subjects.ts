/** NATS names of Hoist's control plane (docs/cluster-upgrades.md, docs/nats.md). Cluster and node ids are single subject tokens. */
export const SUBJECT_PREFIX = "hoist.v1";

/** Verbs an agent answers on `hoist.v1.CLUSTER.NODE.cmd.VERB`. */
export const AGENT_VERBS = ["inventory", "stage", "upgrade", "rollback", "drain", "rejoin", "stop", "start", "health"] as const;
export type AgentVerb = (typeof AGENT_VERBS)[number];

export function commandSubject(cluster: string, node: string, verb: AgentVerb): string {
  return `${SUBJECT_PREFIX}.${cluster}.${node}.cmd.${verb}`;
}

/** Where an agent publishes its progress events (captured by the HOIST_EVENTS stream). */
export function agentEventsSubject(cluster: string, node: string): string {
  return `${SUBJECT_PREFIX}.${cluster}.${node}.events`;
}

/** Where coordinators publish rollout transitions (same stream; `_rollout` is not a valid node id). */
export function rolloutEventsSubject(cluster: string): string {
  return `${SUBJECT_PREFIX}.${cluster}._rollout.events`;
}

/** All events of one cluster (for `rollout status --follow`). */
export function clusterEventsFilter(cluster: string): string {
  return `${SUBJECT_PREFIX}.${cluster}.*.events`;
}

export const EVENTS_STREAM = "HOIST_EVENTS";
export const EVENTS_STREAM_SUBJECTS = [`${SUBJECT_PREFIX}.*.*.events`];

export const KV_INVENTORY = "hoist_inventory";
export const KV_ROLLOUTS = "hoist_rollouts";
export const KV_DESIRED = "hoist_desired";
/** Records (and locks) of `cluster-once` migrations. */
export const KV_MIGRATIONS = "hoist_migrations";

export function inventoryKey(cluster: string, node: string): string {
  return `${cluster}.${node}`;
}

/** KV keys may hold letters, digits, -, _, = and dots; versions and names are sanitised into that set. */
export function kvToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_=-]/g, (char) => `_${char.charCodeAt(0).toString(16)}`);
}

/** NATS micro service name every agent registers under ($SRV.PING.hoist-agent finds them all). */
export const AGENT_MICRO_SERVICE_NAME = "hoist-agent";
