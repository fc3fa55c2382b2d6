import { parseWithSchema } from "../../shared/config/index.ts";
import { strategySchema, type Strategy, type StrategyInput } from "../plan/strategy.ts";
import type { StrategyFlags } from "./strategy-flags.ts";

function toNumber(value: string): number | string {
  return /^\d+$/.test(value) ? Number.parseInt(value, 10) : value;
}

/** Parses the flags into a validated strategy; CONFIG_INVALID names each bad flag. */
export function strategyFromFlags(flags: StrategyFlags): Strategy {
  const sizes = (flags.batch ?? "1").split(",").map((part) => toNumber(part.trim()));
  const order = flags.order === undefined || flags.order === "name" || flags.order === "given" ? (flags.order ?? "name") : flags.order.split(",").map((node) => node.trim());
  const input: Record<string, unknown> = {
    batch: sizes.length === 1 ? sizes[0] : sizes,
    canary: Number(flags.canary ?? 0),
    canaryMode: flags.canaryMode ?? "pause",
    maxFailures: Number(flags.maxFailures ?? 0),
    autoRevert: flags.autoRevert ?? false,
    order,
  };
  if (flags.minHealthyMs !== undefined) input.minHealthyMs = Number(flags.minHealthyMs);
  if (flags.healthyDeadlineMs !== undefined) input.healthyDeadlineMs = Number(flags.healthyDeadlineMs);
  if (flags.progressDeadlineMs !== undefined) input.progressDeadlineMs = Number(flags.progressDeadlineMs);
  return parseWithSchema(strategySchema, input as StrategyInput, "the strategy flags");
}
