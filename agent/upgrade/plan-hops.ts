import { HoistError } from "../../shared/errors/index.ts";
import { planUpgradePath, type ServiceCatalog } from "../../shared/catalog/index.ts";
import type { UpgradeRequest } from "../node-agent-api.ts";
import type { JournalHop } from "./journal-record.ts";

/**
 * The hops an upgrade runs, as the journal keeps them: the one hop the coordinator sent (it must
 * start from the active version), a direct artifact (one hop, no migrations), or the catalog's path.
 * @throws HoistError WRONG_STATE (the sent hop starts elsewhere), NO_UPGRADE_PATH, DOWNGRADE_REFUSED.
 */
export async function planHops(request: UpgradeRequest, current: string | undefined, catalog: () => Promise<ServiceCatalog>): Promise<JournalHop[]> {
  if (request.release) {
    if (current !== request.release.from) {
      throw new HoistError("WRONG_STATE", `${request.service} runs ${current ?? "nothing"}, but the hop to ${request.to} starts from ${request.release.from}`, {
        details: { active: current, from: request.release.from },
      });
    }
    const migrations = request.release.migrations.map((migration) => ({ ...migration, run: [...migration.run] }));
    return [{ from: request.release.from, to: request.to, artifact: { ...request.release.artifact }, migrations }];
  }
  if (request.artifact) {
    return [{ from: current ?? "", to: request.to, artifact: { ...request.artifact }, migrations: [] }];
  }
  return planUpgradePath(await catalog(), current, request.to, { allowDowngrade: request.allowDowngrade ?? false }).map((hop) => ({
    from: hop.from,
    to: hop.to,
    artifact: { ...hop.release.artifact },
    migrations: hop.downgrade ? [] : hop.release.migrations.map((migration) => ({ ...migration, run: [...migration.run] })),
    ...(hop.release.kind === "patch" && !hop.downgrade ? { kind: "patch" as const } : {}),
  }));
}
