import { createLogger } from "../../shared/logger/index.ts";
import { loadCatalog } from "../../shared/catalog/index.ts";
import { loadAgentConfig, type AgentConfig } from "../config.ts";
import { NodeAgent } from "../node-agent.ts";
import { pickService } from "./pick-service.ts";

export interface AgentCliOptions {
  config: string;
  service?: string;
  catalog?: string;
  verbose?: boolean;
}

/**
 * Loads the config and builds the agent. `owner` (commands that change something) takes the state
 * dir's owner lock (BUSY when another process holds it), kills what a dead owner left running and
 * finishes any interrupted operation, as the daemon would; `reader` (status, snapshot list/verify)
 * only reads and never resumes anything.
 */
export async function openAgent(options: AgentCliOptions, role: "owner" | "reader", command: string): Promise<{ agent: NodeAgent; config: AgentConfig; service: string }> {
  const config = await loadAgentConfig(options.config);
  const logger = createLogger({ level: options.verbose ? "debug" : "warn" });
  const catalog = options.catalog ? await loadCatalog(options.catalog) : undefined;
  // HOIST_FAULT_KILL_AT is the crash tests' fault injection (see test/crash-resume.test.ts).
  const killAt = process.env.HOIST_FAULT_KILL_AT;
  const service = pickService(config, options.service);
  const agent = new NodeAgent(config, { logger, role, command, ...(catalog ? { catalog } : {}), ...(killAt ? { killAt } : {}) });
  await agent.start();
  return { agent, config, service };
}
