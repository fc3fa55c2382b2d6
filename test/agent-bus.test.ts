import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { sendAgentCommand } from "../coordinator/bus/agent-commands.ts";
import { AGENT_MICRO_SERVICE_NAME, EVENTS_STREAM, agentEventsSubject } from "../shared/bus/index.ts";
import type { UpgradeOutcome } from "../shared/types/index.ts";

/** One real agent process on a real nats-server: discovery, cluster fencing, idempotency, events. */
describe("an agent on the NATS bus", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster(await makeFileTempDir(), { nodes: 1, version: "1.0.0", lifetime: "file" });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("is found by NATS micro service discovery ($SRV.PING and $SRV.INFO) with its cluster and node", async () => {
    const client = cluster.nc.services.client();
    const pings = [];
    for await (const ping of await client.ping(AGENT_MICRO_SERVICE_NAME)) pings.push(ping);
    expect(pings.map((ping) => ping.metadata)).toContainEqual(expect.objectContaining({ cluster: cluster.cluster, node: "n1" }));
    const infos = [];
    for await (const info of await client.info(AGENT_MICRO_SERVICE_NAME)) infos.push(info);
    const subjects = infos.flatMap((info) => info.endpoints.map((endpoint) => endpoint.subject));
    expect(subjects).toContain(`hoist.v1.${cluster.cluster}.n1.cmd.upgrade`);
  });

  it("refuses a command that names another cluster", async () => {
    const subject = { cluster: cluster.cluster, node: "n1" };
    const reply = await cluster.nc.request(`hoist.v1.${cluster.cluster}.n1.cmd.upgrade`, new TextEncoder().encode(JSON.stringify({ cluster: "someone-else", service: "kv", to: "1.1.0" })), { timeout: 10_000 });
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ ok: false, error: { code: "WRONG_CLUSTER" } });
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("1.0.0");
    await expect(sendAgentCommand(cluster.nc, subject, "inventory", {}, 10_000)).resolves.toMatchObject({ node: "n1" });
  });

  it("runs an upgrade once per idempotency key: the repeat returns the recorded outcome", async () => {
    const target = { cluster: cluster.cluster, node: "n1" };
    const command = { service: "kv", to: "1.1.0", key: "test-rollout/n1/0/upgrade/1" };
    const first = await sendAgentCommand<UpgradeOutcome>(cluster.nc, target, "upgrade", command, 60_000);
    expect(first.result, JSON.stringify(first.error)).toBe("committed");
    const pid = (await cluster.nodes[0]!.kv.version()).pid;
    const repeat = await sendAgentCommand<UpgradeOutcome>(cluster.nc, target, "upgrade", command, 60_000);
    expect(repeat).toEqual(first);
    expect((await cluster.nodes[0]!.kv.version()).pid).toBe(pid);
  });

  it("publishes its progress to the HOIST_EVENTS stream", async () => {
    const jsm = await cluster.nc.jetstreamManager();
    const info = await jsm.streams.info(EVENTS_STREAM);
    expect(info.state.messages).toBeGreaterThan(0);
    const last = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: agentEventsSubject(cluster.cluster, "n1") });
    expect(JSON.parse(new TextDecoder().decode(last.data))).toMatchObject({ type: "progress", node: "n1", verb: "upgrade" });
  });
});
