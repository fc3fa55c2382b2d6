import type { NatsConnection } from "nats";
import { toHoistError } from "../../shared/errors/index.ts";
import { nodeInventorySchema, type ObservedInventory } from "../../shared/inventory/index.ts";
import { sendAgentCommand } from "../bus/agent-commands.ts";

export interface AskedInventories {
  /** Every node's inventory: its agent's fresh answer, or what KV last held when it did not answer. */
  inventories: Record<string, ObservedInventory>;
  /** Nodes whose agent did not answer, with why in words (for the preflight). */
  unanswered: Record<string, string>;
}

/**
 * Asks the agent of every node in `known` for its inventory over NATS, all at once. The KV heartbeat
 * alone cannot tell a live agent from one killed seconds ago (its record stays fresh until the
 * staleness limit), so the preflight asks: a node whose agent is gone fails at once (no responders),
 * a hung one after `timeoutMs` (default 3 s). Never throws for a node that does not answer.
 */
export async function askInventories(nc: NatsConnection, cluster: string, known: Readonly<Record<string, ObservedInventory>>, options: { timeoutMs?: number; now?: () => number } = {}): Promise<AskedInventories> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const now = options.now ?? Date.now;
  const inventories: Record<string, ObservedInventory> = { ...known };
  const unanswered: Record<string, string> = {};
  await Promise.all(
    Object.keys(known).map(async (node) => {
      try {
        const reply = await sendAgentCommand<unknown>(nc, { cluster, node }, "inventory", {}, timeoutMs);
        const parsed = nodeInventorySchema.safeParse(reply);
        if (!parsed.success) {
          unanswered[node] = "its agent sent an inventory this coordinator cannot read; are the agent and coordinator versions compatible?";
          return;
        }
        inventories[node] = { inventory: parsed.data, seenAt: now() };
      } catch (err) {
        const error = toHoistError(err);
        unanswered[node] =
          error.code === "UNAVAILABLE"
            ? "no agent answers on NATS; is it running and connected?"
            : error.code === "TIMEOUT"
              ? `its agent did not answer within ${timeoutMs} ms; is it hung or overloaded?`
              : `its agent refused the inventory request (${error.code}: ${error.message})`;
      }
    }),
  );
  return { inventories, unanswered };
}
