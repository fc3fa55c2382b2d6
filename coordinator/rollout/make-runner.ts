import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "../../shared/logger/index.ts";
import type { AgentClientOptions } from "../../shared/proto/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { ClusterLease } from "./lease.ts";
import { NatsRolloutEffects } from "./nats-effects.ts";
import { RolloutRunner, type RolloutRunnerDeps } from "./runner.ts";
import { RolloutStore } from "./store.ts";

/** A name for this coordinator process in leases and history. */
export function coordinatorIdentity(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
}

/** Wires a RolloutRunner for one cluster on the bus; `extra` sets the runner's outage budget and "waiting for NATS" callback. */
export function makeRunner(bus: Bus, cluster: string, owner: string, logger: Logger, agentGrpc: AgentClientOptions, extra: Pick<RolloutRunnerDeps, "busOutageMs" | "onBusWait"> = {}): RolloutRunner {
  return new RolloutRunner({
    ...extra,
    store: new RolloutStore(bus.buckets.rollouts),
    lease: new ClusterLease(bus.buckets.rollouts, cluster, owner),
    effects: new NatsRolloutEffects({ nc: bus.nc, inventoryKv: bus.buckets.inventory, logger, agentGrpc }),
    logger,
  });
}
