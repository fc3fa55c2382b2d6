import type { Logger } from "../../shared/logger/index.ts";
import type { AgentClientOptions } from "../../shared/proto/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { ClusterLease } from "./lease.ts";
import { makeRunner } from "./make-runner.ts";
import { isTerminal } from "./state.ts";
import { RolloutStore } from "./store.ts";

export interface RolloutScanOptions {
  bus: Bus;
  /** This coordinator's identity in leases and history. */
  owner: string;
  logger: Logger;
  agentGrpc: AgentClientOptions;
  /** How often the rollouts are listed (default 1 s). */
  scanMs?: number;
}

export interface RolloutScan {
  /** Stops scanning, stops every drive (their in-flight steps stay recorded) and waits for them. */
  stop(): Promise<void>;
}

/**
 * The daemon's loop: every `scanMs`, finds rollouts that are not finished and whose cluster lease is
 * free (a new rollout, or one whose coordinator died), takes the lease and drives them, one drive
 * per cluster. Resolves after the first scan.
 */
export async function startRolloutScan(options: RolloutScanOptions): Promise<RolloutScan> {
  const { bus, owner, logger } = options;
  const store = new RolloutStore(bus.buckets.rollouts);
  const driving = new Map<string, Promise<void>>();
  const stopping = new AbortController();

  const scan = async () => {
    for (const value of await store.summaries()) {
      if (isTerminal(value.phase) || driving.has(value.cluster)) continue;
      if (await new ClusterLease(bus.buckets.rollouts, value.cluster, owner).holder()) continue;
      const log = logger.child({ cluster: value.cluster, rollout: value.id });
      const runner = makeRunner(bus, value.cluster, owner, log, options.agentGrpc);
      log.info("driving rollout");
      const drive = runner
        .drive(value.cluster, value.id, stopping.signal)
        .then((final) => log.info({ phase: final.phase }, "rollout ended"))
        .catch((err) => log.warn({ err }, "stopped driving rollout"))
        .finally(() => driving.delete(value.cluster));
      driving.set(value.cluster, drive);
    }
  };
  const timer = setInterval(() => void scan().catch((err) => logger.warn({ err }, "scan failed")), options.scanMs ?? 1000);
  await scan();

  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await Promise.allSettled([...driving.values()]);
    },
  };
}
