import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import type { RolloutState } from "../../coordinator/rollout/state.ts";
import { buildSampleReleases } from "../make-sample-releases.ts";
import { DEMO_BACKEND, DEMO_CLUSTER, DEMO_SERVICE, startFleet, type DemoFleet } from "./fleet.ts";
import { startLoad, type LoadOptions, type LoadSummary } from "./load.ts";
import { startRotationWatch, type NodeDowntime } from "./rotation.ts";
import { makeProgressFilter } from "./progress-filter.ts";
import { readServerStats, type HaproxyServerStat } from "./haproxy.ts";

/**
 * The zero-downtime scenario shared by `npm run demo` and test/e2e-zero-downtime.test.ts: a fleet
 * of three kv nodes behind HAProxy, load through HAProxy the whole time, and a rolling upgrade
 * with the real `hoist rollout start`; what the users saw (requests sent and failed), how long each
 * node was out of rotation, and the fleet before and after.
 */

export interface ScenarioOptions {
  /** Installed first on every node. */
  from: string;
  /** The rollout's target. */
  to: string;
  /** The work dir is made under this dir (default: the OS temp dir). */
  baseDir?: string;
  /** Where the config templates are read from; default examples/demo. */
  configDir?: string;
  /** Keep the work dir (configs, logs, data) after the run. */
  keep?: boolean;
  /** Progress lines. */
  log: (line: string) => void;
  /** Aborting stops the run and cleans up (Ctrl-C). */
  signal?: AbortSignal;
  load?: Omit<LoadOptions, "url">;
  /** Requests answered through HAProxy before the rollout starts, and again after it ended; default 100. */
  settleRequests?: number;
  /** The rollout's health gate (strategy minHealthyMs); default 1000. */
  minHealthyMs?: number;
  /** Every line of the rollout's live progress, not a thinned-out view. */
  verbose?: boolean;
}

export interface ScenarioResult {
  from: string;
  to: string;
  /** The rollout's exit code (0 when it succeeded). */
  exitCode: number | null;
  /** The rollout as recorded (phase, hops, every node's standing, failure). */
  rollout: RolloutState;
  hops: { from: string; to: string; mode: string }[];
  load: LoadSummary;
  downtime: NodeDowntime[];
  /** Wall time of `hoist rollout start`. */
  rolloutMs: number;
  inventoryBefore: string;
  inventoryAfter: string;
  /** GET /version of each node after the rollout, asked directly. */
  versions: Record<string, string>;
  /** Each server's status in HAProxy after the rollout (UP when back in rotation). */
  haproxyAfter: Record<string, string>;
  /**
   * HAProxy's error counters per server over the whole run: connection errors and retries show a
   * request reached a node that was not listening (the drain failed to keep it away, and the
   * retry/redispatch net had to catch it).
   */
  haproxyCounters: Record<string, Pick<HaproxyServerStat, "connectErrors" | "responseErrors" | "retries" | "redispatches">>;
  workDir: string;
  kept: boolean;
}

/** Runs the whole scenario and always cleans up (processes; the work dir unless `keep`). */
export async function runZeroDowntimeScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const { log, signal } = options;
  const settle = options.settleRequests ?? 100;
  log("building the sample kv releases (skipped when up to date)");
  const build = await buildSampleReleases();
  const workDir = await mkdtemp(join(options.baseDir ?? tmpdir(), "hoist-demo-"));
  log(`work dir ${workDir}`);
  let fleet: DemoFleet | undefined;
  try {
    fleet = await startFleet({ workDir, catalog: build.catalogPath, installVersion: options.from, ...(options.configDir ? { configDir: options.configDir } : {}), log, ...(signal ? { signal } : {}) });
    const inventoryBefore = await fleet.inventoryTable();
    log("");
    log(`fleet before:\n${inventoryBefore}`);
    log("");

    log(`load: ${options.load?.concurrency ?? 4} clients sending GET and PUT /kv/KEY to HAProxy at ${fleet.haproxyUrl}`);
    const watch = startRotationWatch({ socket: fleet.haproxySocket, backend: DEMO_BACKEND, nodes: fleet.nodes, onChange: (line) => log(`  ${line}`) });
    const load = startLoad({
      ...options.load,
      url: fleet.haproxyUrl,
      // After Ctrl-C the terminal's SIGINT has stopped HAProxy too: those failures are not news.
      onFailure: (failure) => (signal?.aborted ? undefined : log(`  load: FAILED ${failure.method} ${failure.path}: ${failure.what}`)),
    });
    const ticker = setInterval(() => {
      const now = load.snapshot();
      log(
        `  load: ${now.sent} sent, ${now.failed} failed, by node ${Object.entries(now.byServer)
          .sort()
          .map(([node, count]) => `${node}=${count}`)
          .join(" ")}`,
      );
    }, 5000);
    let stopped = false;
    const stopMeasuring = async () => {
      if (stopped) return { load: load.snapshot(), downtime: [] as NodeDowntime[] };
      stopped = true;
      clearInterval(ticker);
      const [summary, downtime] = await Promise.all([load.stop(), watch.stop()]);
      return { load: summary, downtime };
    };
    try {
      await load.waitForAnswered(settle);
      signal?.throwIfAborted();

      log(`rolling upgrade ${options.from} -> ${options.to}: hoist rollout start --cluster ${DEMO_CLUSTER} --service ${DEMO_SERVICE} --to ${options.to}`);
      const filter = options.verbose ? (line: string) => line : makeProgressFilter();
      const started = Date.now();
      const run = await fleet.hoist(
        [
          "rollout",
          "start",
          "--catalog",
          fleet.catalog,
          "--cluster",
          DEMO_CLUSTER,
          "--service",
          DEMO_SERVICE,
          "--to",
          options.to,
          "--agent-insecure",
          "--min-healthy-ms",
          String(options.minHealthyMs ?? 1000),
          "--healthy-deadline-ms",
          "30000",
          "--progress-deadline-ms",
          "120000",
        ],
        {
          onLine: (line) => {
            const shown = filter(line);
            if (shown !== undefined) log(`  | ${shown}`);
          },
        },
      );
      const rolloutMs = Date.now() - started;
      signal?.throwIfAborted();
      log(`rollout ended with exit code ${run.code} after ${(rolloutMs / 1000).toFixed(1)} s; letting the load run a little longer`);
      await load.waitForAnswered(load.snapshot().sent + settle);
      const measured = await stopMeasuring();

      const status = await fleet.hoist(["rollout", "status", "--cluster", DEMO_CLUSTER, "--json"]);
      if (status.code !== 0) {
        const why = run.code !== 0 ? `hoist rollout start failed before it recorded a rollout: ${run.stderr.trim()}` : `hoist rollout status failed (exit ${status.code}): ${status.stderr.trim()}`;
        throw new HoistError("INTERNAL", why);
      }
      const rollout = JSON.parse(status.stdout) as RolloutState;
      const inventoryAfter = await fleet.inventoryTable();
      const versions = await fleet.versions();
      const stats = await readServerStats(fleet.haproxySocket, DEMO_BACKEND);
      const haproxyAfter = Object.fromEntries(stats.map((stat) => [stat.server, stat.status]));
      const haproxyCounters = Object.fromEntries(stats.map(({ server, connectErrors, responseErrors, retries, redispatches }) => [server, { connectErrors, responseErrors, retries, redispatches }]));
      return {
        from: options.from,
        to: options.to,
        exitCode: run.code,
        rollout,
        hops: rollout.plan.hops.map((hop) => ({ from: hop.from, to: hop.to, mode: hop.mode })),
        load: measured.load,
        downtime: measured.downtime,
        rolloutMs,
        inventoryBefore,
        inventoryAfter,
        versions,
        haproxyAfter,
        haproxyCounters,
        workDir,
        kept: options.keep ?? false,
      };
    } finally {
      await stopMeasuring();
    }
  } finally {
    log(options.keep ? `stopping every process; keeping ${workDir}` : "stopping every process and removing the work dir");
    if (fleet) await fleet.stop({ keep: true });
    if (!options.keep) await rm(workDir, { recursive: true, force: true });
  }
}
