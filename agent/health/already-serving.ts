import type { ProbeConfig } from "../config.ts";
import { checkProbe, type ProbeContext } from "./probes.ts";

/**
 * True when every probe that can answer at once (all but log probes) passes right now, and there is
 * at least one. A start repeated after a crash or by the coordinator must not fail on a service that
 * already runs, so starts ask this first.
 */
export async function alreadyServing(probes: readonly ProbeConfig[], ctx: Pick<ProbeContext, "cwd" | "env" | "signal" | "tracker" | "user">): Promise<boolean> {
  const immediate = probes.filter((probe) => probe.type !== "log");
  if (immediate.length === 0) return false;
  const results = await Promise.all(immediate.map((probe) => checkProbe(probe, ctx)));
  return results.every((result) => result.healthy);
}
