import { HoistError } from "../../shared/errors/index.ts";
import { foldReport, type ControlName } from "./fold.ts";
import { isTerminal, type RolloutState } from "./state.ts";
import type { RolloutStore } from "./store.ts";

/**
 * Records an operator's control (pause, resume, abort, promote) in the rollout state by a commit
 * of its own (compare-and-set on the rollout's last commit), from any machine on the bus; the
 * coordinator driving the rollout sees the commit and acts on it.
 */
export async function requestControl(store: RolloutStore, cluster: string, id: string, control: ControlName, by: string): Promise<RolloutState> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const journal = await store.open(cluster, id);
    if (!journal) throw new HoistError("NOT_FOUND", `rollout ${id} of cluster ${cluster} does not exist`);
    if (isTerminal(journal.state.phase)) {
      throw new HoistError("WRONG_STATE", `rollout ${id} already ended (${journal.state.phase}); nothing to ${control}`);
    }
    try {
      return (await journal.update((state) => foldReport(state, { kind: "control", control, by, at: Date.now() }))).state;
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
  const newest = (await store.summaries(cluster)).sort((a, b) => a.createdAt - b.createdAt).at(-1);
  const loaded = newest && (await store.load(cluster, newest.id));
  if (!loaded) throw new HoistError("NOT_FOUND", `cluster ${cluster} has no rollouts; start one with \`hoist rollout start\``);
  return loaded.value;
}
