import { join } from "node:path";
import type { AgentConfig, ServiceConfig } from "../config.ts";

/** Where the agent keeps its own files for one service. */
export interface ServicePaths {
  /** stateDir/services/NAME */
  root: string;
  journal: string;
  /** Outcomes recorded by idempotency key. */
  results: string;
  lastResult: string;
  /** Upgrades with permanent migrations waiting for `hoist finalize`, and the last one finalized. */
  finalize: string;
  snapshots: string;
  /** Downloaded artifacts, by sha256 (shared by all services). */
  artifacts: string;
}

export function servicePaths(config: AgentConfig, service: ServiceConfig): ServicePaths {
  const root = join(config.stateDir, "services", service.name);
  return {
    root,
    journal: join(root, "journal.json"),
    results: join(root, "results"),
    lastResult: join(root, "last-result.json"),
    finalize: join(root, "finalize.json"),
    snapshots: join(root, "snapshots"),
    artifacts: join(config.stateDir, "artifacts"),
  };
}
