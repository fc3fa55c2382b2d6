/**
 * grpc.health.v1 against the real agent daemon (runAgent: real NodeAgent with health monitors, real
 * gRPC server) managing the real kv sample service: Watch follows kv through a committed upgrade and
 * through one that fails and is rolled back.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { AgentClient, HealthStatus } from "../shared/proto/index.ts";
import { inBackground, serveStalledArtifact, startRealAgent, type RealAgent } from "./helpers/real-agent.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** Records every status a Watch stream sends until stop(). */
function recordWatch(client: AgentClient, service: string) {
  const controller = new AbortController();
  const statuses: HealthStatus[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const status of client.watch(service, { signal: controller.signal })) statuses.push(status);
    } catch (err) {
      failure = err;
    }
  })();
  return {
    statuses,
    async stop(): Promise<HealthStatus[]> {
      controller.abort();
      await done;
      // Rethrows what the watch loop caught, unchanged (narrowed from `unknown` to `{}` by the check).
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (failure) throw failure;
      return statuses;
    },
  };
}

/** Installs `version` on a fresh node over gRPC and waits until kv reports SERVING. */
async function installed(agent: RealAgent, version: string): Promise<void> {
  const outcome = await agent.client.upgrade({ service: "kv", to: version });
  expect(outcome.result).toBe("committed");
  await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING after the install" });
}

describe("health of a service through upgrades, over gRPC, against the real engine", () => {
  it("Watch follows kv through a committed upgrade (SERVING -> NOT_SERVING -> SERVING), then through a failed one rolled back; the agent stays SERVING", async () => {
    const agent = await startRealAgent();
    await installed(agent, "1.0.0");
    await agent.node.kv.put("keep", "me");

    const kvWatch = recordWatch(agent.newClient(), "kv");
    const agentWatch = recordWatch(agent.newClient(), "");
    await waitFor(() => kvWatch.statuses.length > 0 && agentWatch.statuses.length > 0, { what: "the first status of each Watch" });
    expect(kvWatch.statuses).toEqual(["SERVING"]);

    // 1.0.0 -> 1.1.0 over the gRPC Upgrade call, while the Watch streams record every status.
    let checkDuring: Promise<HealthStatus> | undefined;
    const upgraded = await agent.client.upgrade(
      { service: "kv", to: "1.1.0" },
      {
        onProgress: (progress) => {
          // Check answers the same as Watch while the upgrade runs.
          if (progress.step === "migrate") checkDuring ??= agent.client.check("kv");
        },
      },
    );
    expect(upgraded).toMatchObject({ result: "committed", from: "1.0.0", active: "1.1.0" });
    await waitFor(() => kvWatch.statuses.at(-1) === "SERVING" && kvWatch.statuses.length >= 3, { what: "kv SERVING again after the upgrade" });
    expect(kvWatch.statuses).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
    expect(await checkDuring).toBe("NOT_SERVING");
    expect(await agent.client.check("kv")).toBe("SERVING");
    expect((await agent.node.kv.version()).version).toBe("1.1.0");

    // 1.1.0 -> 1.2.0 (via 1.1.1): 1.2.0 logs FATAL after start, verify fails, the rollback restores 1.1.0.
    const failed = await agent.client.upgrade({ service: "kv", to: "1.2.0" });
    expect(failed).toMatchObject({ result: "rolled-back", active: "1.1.0", error: { code: "HEALTH_CHECK_FAILED" } });
    await waitFor(() => kvWatch.statuses.length >= 5 && kvWatch.statuses.at(-1) === "SERVING", { what: "kv SERVING again after the rollback" });
    expect(kvWatch.statuses).toEqual(["SERVING", "NOT_SERVING", "SERVING", "NOT_SERVING", "SERVING"]);
    expect(await agent.client.check("kv")).toBe("SERVING");
    expect((await agent.node.kv.version()).version).toBe("1.1.0");
    expect(await agent.node.kv.get("keep")).toBe("me");

    // The log lines of the crashed 1.2.0 do not count against the old release running again: still
    // SERVING after several more probe rounds.
    const { kv } = await agent.kvInventory();
    expect(kv).toMatchObject({ health: "SERVING", activity: "idle", activeVersion: "1.1.0" });

    expect(await kvWatch.stop()).toEqual(["SERVING", "NOT_SERVING", "SERVING", "NOT_SERVING", "SERVING"]);
    expect(await agentWatch.stop()).toEqual(["SERVING"]);
    expect(await agent.client.check("")).toBe("SERVING");
  });

  it("the coordinator's flow (Drain, Upgrade with skipDrain, Rejoin): kv stays NOT_SERVING from the Drain through the upgrade, staging included", async () => {
    const agent = await startRealAgent();
    await installed(agent, "1.1.0");
    const stalled = await serveStalledArtifact("1.1.1");
    const kvWatch = recordWatch(agent.newClient(), "kv");
    await waitFor(() => kvWatch.statuses.length > 0, { what: "the first status of the Watch" });

    await agent.client.drain("kv");
    expect((await agent.node.kv.cluster()).member).toBe(false);
    expect(await agent.client.check("kv")).toBe("NOT_SERVING");

    const upgrade = inBackground(agent.client.upgrade({ service: "kv", to: "1.1.1", skipDrain: true, artifact: stalled.artifact }));
    await stalled.started;
    // While the release downloads, kv (drained, out of its cluster) must not turn SERVING. Proving a
    // status does NOT change needs time: 1.2 s covers at least two probe rounds (every 500 ms).
    await waitFor(async () => (await agent.kvInventory()).kv.activity === "staging", { what: "the upgrade to be staging" });
    const { kv: during } = await agent.kvInventory();
    expect(during.health).toBe("NOT_SERVING");
    await sleep(1200);
    expect(await agent.client.check("kv")).toBe("NOT_SERVING");
    stalled.release();

    expect(await upgrade).toMatchObject({ result: "committed", active: "1.1.1" });
    // The upgrade's end releases the hold: the health gate needs SERVING before the rejoin.
    await waitFor(async () => (await agent.client.check("kv")) === "SERVING", { what: "kv SERVING after the upgrade" });
    await agent.client.rejoin("kv");
    expect((await agent.node.kv.cluster()).member).toBe(true);
    expect(await agent.client.check("kv")).toBe("SERVING");
    expect(await kvWatch.stop()).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
  });

  it('Check: "" is SERVING, a managed service answers its status, an unknown name is NOT_FOUND', async () => {
    const agent = await startRealAgent();
    expect(await agent.client.check("")).toBe("SERVING");
    // Nothing installed yet: the probes fail once they ran.
    await waitFor(async () => (await agent.client.check("kv")) === "NOT_SERVING", { what: "kv NOT_SERVING before any install" });
    await expect(agent.client.check("no-such-service")).rejects.toMatchObject({ code: "NOT_FOUND", details: { grpcStatus: "NOT_FOUND" } });
    await installed(agent, "1.0.0");
    expect(await agent.client.check("kv")).toBe("SERVING");
  });
});
