export * from "./schema.ts";
export { findServiceInventory, minFreeBytes, type ObservedInventory } from "./observed.ts";
