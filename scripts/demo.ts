/**
 * `npm run demo`: a zero-downtime rolling upgrade on one machine, every part real.
 *
 *   npm run demo [-- --to 1.1.1] [--from 1.0.0] [--keep] [--dir DIR] [--config-dir DIR] [--concurrency 4] [--verbose]
 *
 * Starts a local nats-server, three `hoist agent run` processes each managing one kv node (installed
 * with `hoist upgrade`), HAProxy in front of the nodes and a load generator sending GET and PUT
 * through HAProxy the whole time; runs `hoist rollout start` from 1.0.0 to 1.1.1 (every hop) with
 * live progress; ends with a summary (hops, per-node downtime, total time, requests sent and
 * failed, fleet before and after) and stops everything it started, also on Ctrl-C.
 * Exit code 0 only when the rollout succeeded and no request failed.
 */
import { parseArgs } from "node:util";
import { HoistError, toHoistError } from "../shared/errors/index.ts";
import { SAMPLE_RELEASES } from "./make-sample-releases.ts";
import { findHaproxyBinary } from "./demo/haproxy.ts";
import { runZeroDowntimeScenario } from "./demo/scenario.ts";
import { formatSummary } from "./demo/summary.ts";

const USAGE = `usage: npm run demo -- [--from VERSION] [--to VERSION] [--keep] [--dir DIR] [--config-dir DIR] [--concurrency N] [--verbose]
  --from         kv version installed first on every node (default 1.0.0)
  --to           rollout target (default 1.1.1; 1.2.0 is the broken release that must be rolled back)
  --keep         keep the work dir (configs, agent state, kv logs) after the run
  --dir          make the work dir under DIR instead of the OS temp dir
  --config-dir   read agent-n1.yaml .. agent-n3.yaml and haproxy.cfg from DIR (a copy of examples/demo you changed)
  --concurrency  load clients (default 4, each pausing 20 ms between requests)
  --verbose      every line of the rollout's live progress (default: the steps and events only)`;

const write = (line: string) => process.stdout.write(`${line}\n`);

/** Aborted by Ctrl-C (SIGINT) or SIGTERM: the scenario stops and cleans up. */
const interrupted = new AbortController();

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: "string", default: "1.0.0" },
      to: { type: "string", default: "1.1.1" },
      keep: { type: "boolean", default: false },
      dir: { type: "string" },
      "config-dir": { type: "string" },
      concurrency: { type: "string", default: "4" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    write(USAGE);
    return 0;
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new HoistError("INVALID_ARGUMENT", `--concurrency must be a whole number from 1 to 64 (got ${values.concurrency})`);
  const versions = SAMPLE_RELEASES.map((release) => release.version);
  for (const [flag, version] of [
    ["--from", values.from],
    ["--to", values.to],
  ] as const) {
    if (!versions.includes(version)) throw new HoistError("INVALID_ARGUMENT", `${flag} ${version}: the sample kv service has no such release (it has ${versions.join(", ")})`);
  }
  if (!findHaproxyBinary()) {
    throw new HoistError("NOT_FOUND", "haproxy is not installed; the demo puts HAProxy in front of the nodes. Run `npm run setup` (installs Debian's haproxy and nats-server packages), then `npm run demo` again");
  }

  const onSignal = (name: string) => {
    if (interrupted.signal.aborted) {
      process.stderr.write(`demo: second ${name}: exiting without cleaning up; look for leftovers with \`pgrep -af hoist-demo-\`\n`);
      process.exit(130);
    }
    write(`\n${name}: stopping the demo and cleaning up (wait a few seconds)`);
    interrupted.abort(new HoistError("CANCELLED", `interrupted by ${name}`));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const started = Date.now();
  write(`hoist demo: zero-downtime rolling upgrade of kv ${values.from} -> ${values.to} on 3 nodes behind HAProxy\n`);
  const result = await runZeroDowntimeScenario({
    from: values.from,
    to: values.to,
    keep: values.keep,
    ...(values.dir ? { baseDir: values.dir } : {}),
    ...(values["config-dir"] ? { configDir: values["config-dir"] } : {}),
    log: (line) => write(line),
    signal: interrupted.signal,
    load: { concurrency },
    verbose: values.verbose,
  });
  write("");
  write(formatSummary(result));
  write(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (result.load.failed > 0) write(`${result.load.failed} request(s) failed: that is downtime users would have seen`);
  return result.load.failed === 0 && result.rollout.phase === "succeeded" ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (interrupted.signal.aborted) {
      process.stderr.write("demo: interrupted; every process it started is stopped and its work dir removed (unless --keep)\n");
      process.exit(130);
    }
    const error = toHoistError(err);
    process.stderr.write(`demo: error [${error.code}]: ${error.message}\n`);
    process.exit(error.code === "CANCELLED" ? 130 : 1);
  },
);
