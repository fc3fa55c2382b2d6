export * from "./schema.ts";
export { planUpgradePath, findRelease, type Hop, type PlanPathOptions } from "./upgrade-path.ts";
export { loadCatalog, serviceCatalog } from "./load.ts";
