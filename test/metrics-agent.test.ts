import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runHoist } from "./helpers/hoist-cli.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { scrape } from "./helpers/prometheus.ts";
import { startRealAgent } from "./helpers/real-agent.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

describe("agent metrics of failures (real agent daemon, real hooks)", () => {
  it("a start hook that exits 1 counts in hoist_hook_failures_total, its step as failed in the histogram, and the upgrade as rolled-back", { timeout: 90_000 }, async () => {
    const agent = await startRealAgent({
      node: "m1",
      cluster: "metrics",
      metrics: { listen: "127.0.0.1:0" },
      editService: (service) => {
        // 1.1.0's start fails; the rollback starts 1.0.0 again with the real script.
        service.hooks.start = { run: ["sh", "-c", 'case "$HOIST_RELEASE_DIR" in */1.1.0) echo "refusing to start" >&2; exit 1;; *) exec bin/start;; esac'] };
      },
    });
    const address = agent.running.metricsAddress!;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await agent.client.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");
    const labels = { cluster: "metrics", node: "m1", service: "kv" };
    expect((await scrape(address)).value("hoist_hook_failures_total", { ...labels, hook: "start" })).toBe(0);

    const outcome = await agent.client.upgrade({ service: "kv", to: "1.1.0" });
    expect(outcome.result).toBe("rolled-back");

    const after = await scrape(address);
    expect(after.value("hoist_hook_failures_total", { ...labels, hook: "start" })).toBe(1);
    expect(after.value("hoist_upgrade_step_duration_seconds_count", { ...labels, step: "start", result: "failed" })).toBe(1);
    expect(after.value("hoist_upgrade_step_duration_seconds_count", { ...labels, step: "rb-start", result: "done" })).toBe(1);
    expect(after.value("hoist_operations_total", { ...labels, kind: "upgrade", result: "rolled-back" })).toBe(1);
    expect(after.value("hoist_upgrade_last_result_info", { ...labels, result: "rolled-back", from: "1.0.0", to: "1.1.0" })).toBe(1);
    expect(after.find("hoist_node_version_info", labels).map((sample) => sample.labels.version)).toEqual(["1.0.0"]);
    // Without NATS, no NATS series.
    expect(after.find("hoist_nats_connected")).toEqual([]);
  });
});

describe("a metrics address already in use", () => {
  let taken: Server | undefined;
  let nats: NatsServerHandle | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (taken ? taken.close(resolve) : resolve(undefined)));
    await nats?.stop();
    taken = undefined;
    nats = undefined;
  });

  async function takePort(): Promise<string> {
    taken = createServer();
    await new Promise<void>((resolve) => taken!.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    return `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }

  it("`hoist coordinator --metrics-listen` refuses to start (UNAVAILABLE, exit 1) instead of driving rollouts without its metrics", { timeout: 60_000 }, async () => {
    nats = await startNatsServer();
    const listen = await takePort();
    const result = await runHoist(["coordinator", "--nats", nats.url, "--metrics-listen", listen, "--log-level", "warn"], { timeoutMs: 30_000 });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error [UNAVAILABLE]: cannot serve metrics on ${listen}`);
  });

  it("`hoist agent run --metrics-listen` on a taken address refuses to start (UNAVAILABLE, exit 1)", { timeout: 60_000 }, async () => {
    nats = await startNatsServer();
    const listen = await takePort();
    // No metrics: section: the flag alone turns the listener on.
    const node = await makeSampleNode(await makeTempDir(), { node: "busy", cluster: "metrics", extra: { grpc: { listen: "127.0.0.1:0", insecure: true }, nats: { servers: [nats.url] } } });
    const result = await runHoist(["agent", "run", "-c", node.configPath, "--log-level", "warn", "--metrics-listen", listen], { timeoutMs: 30_000 });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error [UNAVAILABLE]: cannot serve metrics on ${listen}`);
  });
});
