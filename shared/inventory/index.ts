export * from "./schema.ts";
export { findServiceInventory, minFreeBytes, type ObservedInventory } from "./observed.ts";
export type { HostFacts, NodeInventory, ReleaseOnDisk, ServiceActivity, ServiceInventory, ServingStatus, SnapshotSummary, UpgradeOutcome } from "../types/index.ts";
export { parseInventoryEntry } from "./kv-entry.ts";
export { readInventories, readInventory } from "./read-inventories.ts";
