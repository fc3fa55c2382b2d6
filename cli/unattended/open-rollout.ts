import { openBus, type Bus } from "../../coordinator/bus/open-bus.ts";
import type { BusFlags } from "../../coordinator/cli/bus-options.ts";
import { HoistError } from "../../shared/errors/index.ts";
import { openUnattendedBucket, resolveDesired, UnattendedStore, type ResolvedDesired, type RolloutSnapshot } from "../../shared/unattended/index.ts";

export interface RolloutFlags extends BusFlags {
  cluster: string;
  service: string;
}

/** An operator command's handle on one rollout: the bus and the store. */
export interface OpenRollout {
  bus: Bus;
  store: UnattendedStore;
  close(): Promise<void>;
}

export async function openRollout(flags: BusFlags, name: string): Promise<OpenRollout> {
  const bus = await openBus(flags, name);
  const kv = await openUnattendedBucket(bus.nc);
  return { bus, store: new UnattendedStore(kv, bus.nc), close: () => bus.close() };
}

/**
 * The rollout and its desired document resolved.
 * @throws HoistError NOT_FOUND when no desired state was set for CLUSTER/SERVICE.
 */
export async function readResolved(store: UnattendedStore, cluster: string, service: string): Promise<{ snapshot: RolloutSnapshot; desired: ResolvedDesired }> {
  const snapshot = await store.readRollout(cluster, service);
  if (!snapshot.stored) throw new HoistError("NOT_FOUND", `no desired state for ${cluster}/${service}; set one with hoist unattended set -f rollout.yaml`);
  return { snapshot, desired: await resolveDesired(store, snapshot.stored.value) };
}

/** Parses `--until` as an ISO time or a duration from now (2h, 30m). */
export function parseUntil(value: string, now: number, parseDuration: (text: string) => number | undefined): number {
  const ms = parseDuration(value);
  if (ms !== undefined) return now + ms;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new HoistError("INVALID_ARGUMENT", `--until must be an ISO time (2026-03-01T06:00:00Z) or a duration (2h), got ${value}`);
  return at;
}
