import { HoistError } from "../../shared/errors/index.ts";
import type { AgentConfig } from "../config.ts";

/**
 * The service named by --service, or the only one the config has.
 * @throws HoistError NOT_FOUND when the config has no such service; INVALID_ARGUMENT when it has several and none is named.
 */
export function pickService(config: AgentConfig, name: string | undefined): string {
  if (name !== undefined) {
    if (!config.services.some((service) => service.name === name)) {
      throw new HoistError("NOT_FOUND", `service ${name} is not in the config (has: ${config.services.map((s) => s.name).join(", ")})`);
    }
    return name;
  }
  if (config.services.length === 1) return config.services[0]!.name;
  throw new HoistError("INVALID_ARGUMENT", `the config manages several services (${config.services.map((s) => s.name).join(", ")}); pick one with --service`);
}
