import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { scrape, type Scrape } from "./helpers/prometheus.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Scrapes until `test` holds on the scrape; returns that scrape. */
function scrapeUntil(address: string, what: string, test: (scrape: Scrape) => boolean): Promise<Scrape> {
  return waitFor(
    async () => {
      const result = await scrape(address);
      return test(result) ? result : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 100, what },
  );
}

describe("Prometheus metrics of real agents and a real coordinator during a rollout (3 agent processes, real nats-server)", () => {
  it("show the version changing on every node, the rollout's phase, nodes by state, batch and failure budget while it waits for promote, and step histograms, snapshots and hook counters after", { timeout: 300_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.0.0", agentMetrics: true });
    const [n1, n2] = cluster.nodes;
    const kv = { cluster: cluster.cluster, node: "n1", service: "kv" };

    const before = await scrape(n1!.metricsAddress!);
    expect(before.types).toMatchObject({ hoist_node_version_info: "gauge", hoist_upgrade_step_duration_seconds: "histogram", hoist_hook_failures_total: "counter", hoist_nats_connected: "gauge" });
    expect(before.find("hoist_node_version_info", kv)).toEqual([{ name: "hoist_node_version_info", labels: { ...kv, version: "1.0.0", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, value: 1 }]);
    expect(before.value("hoist_node_health_status", { ...kv, status: "SERVING" })).toBe(1);
    expect(before.value("hoist_node_health_status", { ...kv, status: "NOT_SERVING" })).toBe(0);
    expect(before.value("hoist_nats_connected", { cluster: cluster.cluster, node: "n1" })).toBe(1);
    expect(before.value("hoist_hook_failures_total", { ...kv, hook: "start" })).toBe(0);

    const daemon = cluster.spawnHoist(["coordinator", "--agent-insecure", "--log-level", "warn", "--metrics-listen", "127.0.0.1:0"]);
    const coordinator = await waitFor(async () => /metrics on http:\/\/(\S+)\/metrics/.exec(daemon.output())?.[1], { timeoutMs: 60_000, what: "the coordinator's metrics address" });
    const fleet = await scrape(coordinator);
    for (const node of ["n1", "n2", "n3"]) expect(fleet.find("hoist_node_version_info", { cluster: cluster.cluster, node, service: "kv" }).map((sample) => sample.labels.version)).toEqual(["1.0.0"]);
    expect(fleet.value("hoist_nats_connected")).toBe(1);

    // One canary, then the rollout waits for promote: a state the scrape can see for sure.
    const started = await cluster.hoist(cluster.rolloutArgs("1.1.0", ["--detach", "--json", "--canary", "1", "--max-failures", "2"]));
    expect(started.code, started.stderr).toBe(0);
    const id = JSON.parse(started.stdout.trim().split("\n").at(-1)!).id as string;
    const rollout = { cluster: cluster.cluster, rollout: id };
    const waiting = await scrapeUntil(coordinator, "the rollout waiting for promote", (result) => result.value("hoist_rollout_phase", { ...rollout, phase: "waiting-promote" }) === 1);
    expect(waiting.value("hoist_rollout_phase", { ...rollout, phase: "running" })).toBe(0);
    expect(waiting.value("hoist_rollout_info", { ...rollout, service: "kv", target: "1.1.0" })).toBe(1);
    expect(waiting.value("hoist_rollout_nodes", { ...rollout, state: "done" })).toBe(1);
    expect(waiting.value("hoist_rollout_nodes", { ...rollout, state: "pending" })).toBe(2);
    // the canary batch is done; the cursor points at the batch that starts after promote
    expect(waiting.value("hoist_rollout_batch", rollout)).toBe(2);
    expect(waiting.value("hoist_rollout_batches", rollout)).toBe(3);
    expect(waiting.value("hoist_rollout_hops", rollout)).toBe(1);
    expect(waiting.value("hoist_rollout_failure_budget_remaining", rollout)).toBe(2);
    const canary = await scrape(n1!.metricsAddress!);
    expect(canary.find("hoist_node_version_info", kv).map((sample) => sample.labels.version)).toEqual(["1.1.0"]);
    expect((await scrape(n2!.metricsAddress!)).find("hoist_node_version_info", { ...kv, node: "n2" }).map((sample) => sample.labels.version)).toEqual(["1.0.0"]);

    const promoted = await cluster.hoist(["rollout", "promote", "--cluster", cluster.cluster]);
    expect(promoted.code, `${promoted.stdout}\n${promoted.stderr}`).toBe(0);
    const done = await scrapeUntil(coordinator, "the rollout succeeded and every node published 1.1.0", (result) => {
      const versions = result.find("hoist_node_version_info", { cluster: cluster!.cluster, service: "kv" }).map((sample) => sample.labels.version);
      return result.value("hoist_rollout_phase", { ...rollout, phase: "succeeded" }) === 1 && versions.length === 3 && versions.every((version) => version === "1.1.0");
    });
    expect(done.value("hoist_rollout_nodes", { ...rollout, state: "done" })).toBe(3);
    expect(done.value("hoist_rollout_failure_budget_remaining", rollout)).toBe(2);
    expect(done.value("hoist_rollouts", { phase: "succeeded" })).toBe(1);

    for (const node of cluster.nodes) {
      const labels = { cluster: cluster.cluster, node: node.node, service: "kv" };
      const after = await scrape(node.metricsAddress!);
      expect(after.find("hoist_node_version_info", labels).map((sample) => sample.labels.version)).toEqual(["1.1.0"]);
      expect(after.value("hoist_upgrade_last_result_info", { ...labels, result: "committed", from: "1.0.0", to: "1.1.0" })).toBe(1);
      expect(after.value("hoist_operations_total", { ...labels, kind: "upgrade", result: "committed" })).toBe(1);
      // every step the journal ran is in the histogram, each once, none failed
      for (const step of ["stop", "snapshot", "switch", "migrate", "start", "verify", "commit"]) {
        expect(after.value("hoist_upgrade_step_duration_seconds_count", { ...labels, step, result: "done" }), step).toBe(1);
      }
      expect(after.find("hoist_upgrade_step_duration_seconds_count", { ...labels, result: "failed" })).toEqual([]);
      expect(after.value("hoist_upgrade_step_duration_seconds_sum", { ...labels, step: "verify", result: "done" })).toBeGreaterThan(0);
      expect(after.value("hoist_snapshots_taken_total", labels)).toBe(1);
      expect(after.value("hoist_snapshot_duration_seconds_count", labels)).toBe(1);
      expect(after.value("hoist_snapshot_last_size_bytes", labels)).toBeGreaterThan(0);
      expect(after.value("hoist_snapshots_kept", labels)).toBeGreaterThanOrEqual(1);
      expect(after.value("hoist_hook_failures_total", { ...labels, hook: "start" })).toBe(0);
      expect(after.value("hoist_node_activity", { ...labels, activity: "idle" })).toBe(1);
    }
    // docs/metrics.md lists every metric both served
    const docs = await readFile(join(import.meta.dirname, "..", "docs", "metrics.md"), "utf8");
    const served = [...Object.keys(done.types), ...Object.keys((await scrape(n1!.metricsAddress!)).types)];
    expect(served.filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
    await daemon.kill("SIGTERM");
  });
});
