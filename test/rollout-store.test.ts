import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { decideNext } from "../coordinator/rollout/decide.ts";
import { foldDecision, foldReport } from "../coordinator/rollout/fold.ts";
import { rolloutDelta } from "../coordinator/rollout/record-delta.ts";
import type { RolloutState } from "../coordinator/rollout/state.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import { encodeJson, openBuckets, type HoistBuckets } from "../shared/bus/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { nodes, rollout, T0 } from "./helpers/rollout-fixtures.ts";

/**
 * The rollout store on a real nats-server: what a commit writes, what a crash between its writes
 * leaves, and who may write. Sizes are read from the bucket's stream (bytes stored), not timed.
 */

let server: NatsServerHandle;
let nc: NatsConnection;
let buckets: HoistBuckets;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  buckets = await openBuckets(nc, { replicas: 1 });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

let counter = 0;
/** A running rollout of `count` nodes 1.0.0 -> 1.1.0, batch 100%, with a unique id and cluster. */
function runningRollout(count: number): RolloutState {
  counter += 1;
  const base = rollout(nodes(count), "1.1.0", { batch: "100%" });
  const state = { ...base, id: `r${counter}`, cluster: `c${counter}` };
  const inPreflight = foldDecision(state, { kind: "preflight" }, T0).state;
  const checked = foldReport(inPreflight, { kind: "preflight", ok: true, messages: [], at: T0 }).state;
  return foldDecision(checked, { kind: "set-phase", phase: "running", reason: "test" }, T0).state;
}

async function bucketBytes(): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info("KV_hoist_rollouts");
  return info.state.bytes;
}

/** Sends the first step to every node, then answers each node's step: one commit per answer. */
async function sendAndAnswerAll(store: RolloutStore, state: RolloutState): Promise<{ perAnswerBytes: number; final: RolloutState }> {
  const journal = (await store.open(state.cluster, state.id))!;
  const decision = decideNext(journal.state, T0 + 1);
  expect(decision.kind).toBe("send");
  if (decision.kind !== "send") throw new Error("no send");
  await journal.update((current) => foldDecision(current, decision, T0 + 1));
  const before = await bucketBytes();
  for (const command of decision.commands) await journal.update((current) => foldReport(current, { kind: "step", key: command.key, outcome: "ok", at: T0 + 2 }));
  const after = await bucketBytes();
  return { perAnswerBytes: (after - before) / decision.commands.length, final: journal.state };
}

describe("rollout store", () => {
  it("a step result writes the same few bytes whatever the fleet's size (20 vs 400 nodes)", async () => {
    const store = new RolloutStore(buckets.rollouts);
    const small = runningRollout(20);
    const large = runningRollout(400);
    await store.create(small);
    await store.create(large);
    const a = await sendAndAnswerAll(store, small);
    const b = await sendAndAnswerAll(store, large);
    // The old layout rewrote the whole record (~240 bytes per node) per result: 400 nodes would be ~100 KB.
    expect(a.perAnswerBytes).toBeGreaterThan(0);
    expect(b.perAnswerBytes).toBeLessThan(a.perAnswerBytes * 1.5);
    expect(b.perAnswerBytes).toBeLessThan(8000);
    // And what was committed is what a reader assembles.
    expect((await store.load(large.cluster, large.id))!.value).toEqual(b.final);
  });

  it("a crash after the commit's wal and before its keys: readers see the commit, the next writer writes it out", async () => {
    const store = new RolloutStore(buckets.rollouts);
    const state = runningRollout(3);
    await store.create(state);
    const journal = (await store.open(state.cluster, state.id))!;
    const decision = decideNext(journal.state, T0 + 1);
    if (decision.kind !== "send") throw new Error(`expected send, got ${decision.kind}`);
    const next = foldDecision(journal.state, decision, T0 + 1).state;
    // The commit's first write only, as a coordinator killed right after it would leave it.
    await store.writeWal(state.cluster, state.id, rolloutDelta(journal.state, next, 1), journal.revision);
    const nodeKey = `${RolloutStore.key(state.cluster, state.id)}.n.0.${decision.commands[0]!.node}`;
    const stale = JSON.parse(new TextDecoder().decode((await buckets.rollouts.get(nodeKey))!.value)) as { inFlight?: unknown };
    expect(stale.inFlight).toBeUndefined();

    expect((await store.load(state.cluster, state.id))!.value).toEqual(next);
    const reopened = (await store.open(state.cluster, state.id))!;
    expect(reopened.state).toEqual(next);
    const written = JSON.parse(new TextDecoder().decode((await buckets.rollouts.get(nodeKey))!.value)) as { inFlight?: { key: string } };
    expect(written.inFlight?.key).toBe(decision.commands[0]!.key);
  });

  it("two writers: the second to commit gets CONFLICT and changes nothing; reopened, it folds on the first's commit", async () => {
    const store = new RolloutStore(buckets.rollouts);
    const state = runningRollout(2);
    await store.create(state);
    const first = (await store.open(state.cluster, state.id))!;
    const second = (await store.open(state.cluster, state.id))!;
    await first.update((current) => foldReport(current, { kind: "control", control: "pause", by: "alice", at: T0 + 5 }));
    const refused = await second.update((current) => foldReport(current, { kind: "control", control: "abort", by: "bob", at: T0 + 6 })).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HoistError);
    expect((refused as HoistError).code).toBe("CONFLICT");
    expect((await store.load(state.cluster, state.id))!.value.controls.abort).toBeUndefined();
    // A journal whose write failed stays refused until reopened.
    expect(await second.changedElsewhere()).toBe(true);
    const again = (await store.open(state.cluster, state.id))!;
    const folded = await again.update((current) => foldReport(current, { kind: "control", control: "abort", by: "bob", at: T0 + 6 }));
    expect(folded.state.controls.pause?.by).toBe("alice");
    expect((await store.load(state.cluster, state.id))!.value.controls.abort?.by).toBe("bob");
  });

  it("reads and converts a rollout recorded whole in one key by an earlier Hoist", async () => {
    const store = new RolloutStore(buckets.rollouts);
    const state = runningRollout(3);
    await buckets.rollouts.create(RolloutStore.key(state.cluster, state.id), encodeJson(state));
    expect((await store.load(state.cluster, state.id))!.value).toEqual(state);
    expect((await store.summaries(state.cluster)).map((summary) => summary.phase)).toEqual(["running"]);
    const journal = (await store.open(state.cluster, state.id))!;
    await journal.update((current) => foldReport(current, { kind: "control", control: "pause", by: "carol", at: T0 + 9 }));
    const reread = (await store.load(state.cluster, state.id))!.value;
    expect(reread.controls.pause?.by).toBe("carol");
    expect(reread.hops).toEqual(state.hops);
  });
});
