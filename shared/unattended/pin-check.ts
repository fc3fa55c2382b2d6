import type { Catalog } from "../catalog/index.ts";

/**
 * Why (code and message) `hoist unattended pin NODE VERSION` must be refused, or undefined when it may be stored: the
 * pin names a version older than the one the node reports running (by position in the pushed
 * catalog, the order the engine plans by), or one the catalog does not have. Unattended upgrades
 * never downgrade (the engine refuses it: data migrated forward may not run on an older release),
 * so such a pin would only back off on the node forever; saying so at pin time names the ways back.
 * Without a pushed catalog or a report the order is unknown, and the pin is allowed.
 */
export function pinRefusal(catalog: Catalog | undefined, service: string, node: string, running: string | undefined, pin: string): { code: "DOWNGRADE_REFUSED" | "NOT_FOUND"; message: string } | undefined {
  const releases = catalog?.services[service]?.releases;
  if (!releases) return undefined;
  const order = releases.map((release) => release.version);
  if (!order.includes(pin)) return { code: "NOT_FOUND", message: `${pin} is not in the pushed catalog of ${service} (known: ${order.join(", ")}); push it first with hoist release push --catalog` };
  if (running === undefined || running === pin || !order.includes(running)) return undefined;
  if (order.indexOf(pin) > order.indexOf(running)) return undefined;
  const message =
    `${node} runs ${running}, and ${pin} is older: unattended upgrades never downgrade (the engine refuses it), so the pin would only back off. ` +
    `To take the fleet back use hoist unattended rollback --to ${pin} (the engine's snapshot restore, wave by wave); for this node alone, hoist upgrade --to ${pin} --allow-downgrade on it`;
  return { code: "DOWNGRADE_REFUSED", message };
}
