import type { NatsConnection } from "nats";

export interface RolloutWrites {
  /** Writes seen, bytes they carried, and how many the stream stored: the rest were refused by compare-and-set. */
  stop(): Promise<{ writes: number; bytes: number; stored: number; refused: number }>;
}

/**
 * Counts every write to the rollout bucket from now on: a KV put is a publish on
 * `$KV.hoist_rollouts.KEY`, seen by a core subscription whether the stream stores it or refuses it
 * (compare-and-set); the stream's sequence counts the stored ones.
 */
export async function countRolloutWrites(nc: NatsConnection): Promise<RolloutWrites> {
  const jsm = await nc.jetstreamManager();
  const seen = { writes: 0, bytes: 0 };
  const subscription = nc.subscribe("$KV.hoist_rollouts.>", {
    callback: (_err, msg) => {
      seen.writes += 1;
      seen.bytes += msg.data.length;
    },
  });
  await nc.flush();
  const seqBefore = (await jsm.streams.info("KV_hoist_rollouts")).state.last_seq;
  return {
    async stop() {
      await nc.flush();
      subscription.unsubscribe();
      const stored = (await jsm.streams.info("KV_hoist_rollouts")).state.last_seq - seqBefore;
      return { ...seen, stored, refused: seen.writes - stored };
    },
  };
}
