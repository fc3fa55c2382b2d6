import { HoistError } from "../../shared/errors/index.ts";
import { foldReport, type ControlName } from "./fold.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { RolloutStore } from "./store.ts";

/**
 * Records an operator's control (pause, resume, abort, promote) in the rollout state by
 * compare-and-set, from any machine on the bus; the coordinator driving the rollout acts on it.
 */
export async function requestControl(store: RolloutStore, cluster: string, id: string, control: ControlName, by: string): Promise<RolloutState> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const loaded = await store.load(cluster, id);
    if (!loaded) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
    if (isTerminal(loaded.value.phase)) {
      throw new HoistError("WRONG_STATE", `rollout ${id} already ended (${loaded.value.phase}); nothing to ${control}`);
    }
    const { state: next } = foldReport(loaded.value, { kind: "control", control, by, at: Date.now() });
    try {
      await store.save(next, loaded.revision);
      return next;
    } catch (err) {
      if (!(err instanceof HoistError) || err.code !== "CONFLICT") throw err;
    }
  }
  throw new HoistError("CONFLICT", `rollout ${id} kept changing; try ${control} again`);
}

/** The rollout a command means: the given id, or the cluster's newest one. */
export async function findRollout(store: RolloutStore, cluster: string, id: string | undefined): Promise<RolloutState> {
  if (id !== undefined) {
    const loaded = await store.load(cluster, id);
    if (!loaded) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
    return loaded.value;
  }
  const all = await store.list(cluster);
  const newest = all
    .map((entry) => entry.value)
    .sort((a, b) => a.createdAt - b.createdAt)
    .at(-1);
  if (!newest) throw new HoistError("NOT_FOUND", `cluster ${cluster} has no rollouts; start one with \`hoist rollout start\``);
  return newest;
}
