import type { AgentConfig } from "../config.ts";
import type { ServiceInventory } from "../node-agent-api.ts";
import { JournalStore } from "../upgrade/journal-store.ts";
import { servicePaths } from "./service-paths.ts";
import { diskInventoryCache, readServiceInventory } from "./service-inventory.ts";

/**
 * The services of a node as a read-only command (`hoist status`) sees them: what a reader NodeAgent
 * reports (readServiceInventory, not owned: activity from the owner's journal, health from one look
 * at the http and tcp probes), without building the agent, so that such a command loads the config,
 * the disk listings and the probes, not the logger, the hooks or the upgrade runner. Never changes
 * anything, never takes the owner lock.
 */
export async function readServicesReadOnly(config: AgentConfig, only?: string): Promise<ServiceInventory[]> {
  return Promise.all(
    config.services
      .filter((service) => only === undefined || service.name === only)
      .map((service) => {
        const paths = servicePaths(config, service);
        const store = new JournalStore(paths);
        return readServiceInventory({ config: service, paths, store, inventory: diskInventoryCache(service, paths, store), activity: "idle" }, false);
      }),
  );
}
