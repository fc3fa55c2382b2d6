/**
 * `tsx scripts/fleet-sim/main.ts --nats URL --cluster ID --nodes N --version V [options]`: runs a
 * simulated fleet in this process until SIGTERM/SIGINT. Prints one JSON line when every agent has
 * joined (`{"ready":true,...}`); with `--records`, one more line per step of work as it finishes
 * (`{"step":{node,verb,startedAt,finishedAt,drawnMs,...}}`, what the fleet bench analyses when it runs
 * the fleet in several processes). Only wiring lives here (the fleet is scripts/fleet-sim/fleet.ts).
 */
import { Command } from "commander";
import { startFleet } from "./fleet.ts";
import type { StepRecord } from "./sim-node-agent.ts";
import { SIM_STEPS, type SimStep } from "./timing.ts";
import { createLogger } from "../../shared/logger/index.ts";

const program = new Command("fleet-sim")
  .requiredOption("--nats <url>", "NATS server URL(s), comma separated")
  .requiredOption("--cluster <id>", "cluster id")
  .option("--nodes <n>", "simulated agents", "100")
  .option("--version <v>", "version every node runs", "1.0.0")
  .option("--service <name>", "the managed service", "kv")
  .option("--prefix <p>", "node id prefix", "sim-")
  .option("--timing <step=spec...>", `step time, e.g. upgrade=lognormal:1200,0.3 (steps: ${SIM_STEPS.join(", ")})`)
  .option("--seed <n>", "random seed", "1")
  .option("--heartbeat-ms <ms>", "inventory heartbeat", "2000")
  .option("--fail-rate <p>", "chance an upgrade fails and is rolled back", "0")
  .option("--log-level <level>", "log level", "warn")
  .option("--records", "print every step of work as a JSON line on stdout")
  .parse();

const flags = program.opts<{
  nats: string;
  cluster: string;
  nodes: string;
  version: string;
  service: string;
  prefix: string;
  timing?: string[];
  seed: string;
  heartbeatMs: string;
  failRate: string;
  logLevel: string;
  records?: boolean;
}>();
const timings: Partial<Record<SimStep, string>> = {};
for (const item of flags.timing ?? []) {
  const [step, spec] = item.split("=", 2) as [SimStep, string | undefined];
  if (!SIM_STEPS.includes(step) || !spec) throw new Error(`bad --timing ${item}: expected STEP=SPEC with STEP one of ${SIM_STEPS.join(", ")}`);
  timings[step] = spec;
}
const started = Date.now();
const fleet = await startFleet({
  servers: flags.nats.split(","),
  cluster: flags.cluster,
  nodes: Number(flags.nodes),
  nodePrefix: flags.prefix,
  service: flags.service,
  version: flags.version,
  timings,
  seed: Number(flags.seed),
  heartbeatMs: Number(flags.heartbeatMs),
  upgradeFailRate: Number(flags.failRate),
  logger: createLogger({ level: flags.logLevel }),
  ...(flags.records ? { onStep: (record: StepRecord) => process.stdout.write(`${JSON.stringify({ step: record })}\n`) } : {}),
});
process.stdout.write(`${JSON.stringify({ ready: true, nodes: fleet.agents.length, joinMs: Date.now() - started, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
const stop = () => void fleet.stop().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
