/**
 * Step durations of simulated agents, drawn from a configurable distribution with a seeded random
 * source per node (so two runs of a bench draw the same times for the same node and step).
 *
 * Spec grammar (milliseconds):
 *   `fixed:MS`                      always MS
 *   `uniform:MIN-MAX`               uniform in [MIN, MAX]
 *   `lognormal:MEDIAN[,SIGMA]`      log-normal with that median and shape (default sigma 0.25),
 *                                   the long right tail real upgrade steps have
 *   a bare number                   same as `fixed:`
 */
export type Distribution = { kind: "fixed"; ms: number } | { kind: "uniform"; min: number; max: number } | { kind: "lognormal"; median: number; sigma: number };

/** Parses a distribution spec (grammar above); throws naming the spec when it is malformed. */
export function parseDistribution(spec: string): Distribution {
  const text = spec.trim();
  const number = (value: string | undefined): number => {
    const parsed = Number(value);
    if (value === undefined || value.trim() === "" || !Number.isFinite(parsed) || parsed < 0) {
      throw new Error(`bad step-time spec "${spec}": expected fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN[,SIGMA] (ms, >= 0)`);
    }
    return parsed;
  };
  if (/^[\d.]+$/.test(text)) return { kind: "fixed", ms: number(text) };
  const [kind, args = ""] = text.split(":", 2) as [string, string?];
  switch (kind) {
    case "fixed":
      return { kind: "fixed", ms: number(args) };
    case "uniform": {
      const [min, max] = args.split("-");
      const low = number(min);
      const high = number(max);
      if (high < low) throw new Error(`bad step-time spec "${spec}": MAX is below MIN`);
      return { kind: "uniform", min: low, max: high };
    }
    case "lognormal": {
      const [median, sigma] = args.split(",");
      return { kind: "lognormal", median: number(median), sigma: sigma === undefined ? 0.25 : number(sigma) };
    }
    default:
      throw new Error(`bad step-time spec "${spec}": expected fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN[,SIGMA] (ms, >= 0)`);
  }
}

/** The distribution's median (for "ideal" critical paths in reports). */
export function medianOf(distribution: Distribution): number {
  switch (distribution.kind) {
    case "fixed":
      return distribution.ms;
    case "uniform":
      return (distribution.min + distribution.max) / 2;
    case "lognormal":
      return distribution.median;
  }
}

/** mulberry32: a small, fast, seeded 32-bit generator; values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws one duration (ms, rounded) from the distribution. */
export function drawMs(distribution: Distribution, random: () => number): number {
  switch (distribution.kind) {
    case "fixed":
      return distribution.ms;
    case "uniform":
      return Math.round(distribution.min + (distribution.max - distribution.min) * random());
    case "lognormal": {
      // Box-Muller; 1 - random() keeps the log argument in (0, 1].
      const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return Math.round(distribution.median * Math.exp(distribution.sigma * normal));
    }
  }
}

/** Steps a simulated agent spends time on; `upgrade` is the whole stop..verify run of the agent. */
export const SIM_STEPS = ["stage", "drain", "upgrade", "rejoin", "rollback", "stop", "start"] as const;
export type SimStep = (typeof SIM_STEPS)[number];

/** A distribution per step. */
export type StepTimings = Record<SimStep, Distribution>;

/** Defaults: a fast but not instant node (an upgrade of a small service): ~1.8 s of agent work per node. */
export const DEFAULT_TIMINGS: Readonly<Record<SimStep, string>> = {
  stage: "lognormal:300,0.3",
  drain: "lognormal:100,0.3",
  upgrade: "lognormal:1200,0.3",
  rejoin: "lognormal:100,0.3",
  rollback: "lognormal:800,0.3",
  stop: "lognormal:200,0.3",
  start: "lognormal:300,0.3",
};

/** Timings from specs (missing steps take the defaults). */
export function parseTimings(specs: Partial<Record<SimStep, string>> = {}): StepTimings {
  return Object.fromEntries(SIM_STEPS.map((step) => [step, parseDistribution(specs[step] ?? DEFAULT_TIMINGS[step])])) as StepTimings;
}
