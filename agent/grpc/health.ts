import { HealthImplementation, type ServingStatus as HealthServingStatus } from "grpc-health-check";
import type * as grpc from "@grpc/grpc-js";
import type { NodeAgentApi, ServingStatus } from "../node-agent-api.ts";
import type { Logger } from "../../shared/logger/index.ts";

/** The agent's grpc.health.v1 service and the hooks that keep it current. */
export interface AgentHealth {
  addToServer(server: grpc.Server): void;
  /** Reports the agent ("") as NOT_SERVING (watchers see it) and stops following the agent. */
  shutdown(): void;
}

/**
 * grpc.health.v1.Health for an agent, on grpc-health-check's HealthImplementation:
 * - "" is the agent itself: SERVING from start until shutdown() (or what the agent reports for "").
 * - each managed service (names from the inventory at start) reports agent.health(name), and follows
 *   agent.onHealthChange; a name first seen in a change is added.
 * - Check of any other name answers NOT_FOUND; Watch of it sends SERVICE_UNKNOWN and waits, as the
 *   health-checking spec says.
 * A status is only set when it changes, so Watch streams carry changes, not repeats.
 */
export async function createAgentHealth(agent: NodeAgentApi, logger: Logger): Promise<AgentHealth> {
  const implementation = new HealthImplementation();
  const current = new Map<string, ServingStatus>();
  const set = (service: string, status: ServingStatus) => {
    if (current.get(service) === status) return;
    logger.debug({ service, from: current.get(service), to: status }, "health status changed");
    current.set(service, status);
    implementation.setStatus(service, status satisfies HealthServingStatus);
  };
  // Subscribe before reading, so a change between the read and the subscription is not lost.
  const unsubscribe = agent.onHealthChange((service, status) => set(service, status));
  set("", "SERVING");
  const inventory = await agent.inventory();
  for (const service of inventory.services) {
    if (!current.has(service.name)) set(service.name, agent.health(service.name));
  }
  return {
    addToServer(server) {
      implementation.addToServer(server);
    },
    shutdown() {
      unsubscribe();
      set("", "NOT_SERVING");
    },
  };
}
