import type { AgentConfig, ServiceConfig } from "../config.ts";

/**
 * The environment hooks, probes and migrations see: the service's configured `env` plus what Hoist
 * tells them. Nothing else of the agent's own environment is passed (the exec layer adds PATH/LANG).
 */
export function hookEnv(config: AgentConfig, service: ServiceConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...service.env,
    HOIST_NODE: config.node,
    HOIST_CLUSTER: config.cluster,
    HOIST_SERVICE: service.name,
    HOIST_INSTALL_ROOT: service.installRoot,
    HOIST_DATA_DIR: service.dataDirs[0]!,
    HOIST_DATA_DIRS: service.dataDirs.join(":"),
    ...extra,
  };
}
