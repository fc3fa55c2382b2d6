import { afterEach, describe, expect, it } from "vitest";
import { startAgentGrpcServer, type AgentGrpcServer } from "../agent/grpc/server.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { createAgentClient, type AgentClient } from "../shared/proto/index.ts";
import { awaitHealthGate } from "../coordinator/health/health-gate.ts";
import { FakeNodeAgent } from "./helpers/fake-node-agent.ts";

const servers: AgentGrpcServer[] = [];
const clients: AgentClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop({ graceMs: 0 })));
});

async function serve(agent: FakeNodeAgent, listen = "127.0.0.1:0"): Promise<AgentGrpcServer> {
  const server = await startAgentGrpcServer(agent, { listen, insecure: true }, silentLogger());
  servers.push(server);
  return server;
}

function client(address: string): AgentClient {
  const made = createAgentClient(address, { insecure: true });
  clients.push(made);
  return made;
}

describe("the coordinator's health gate on grpc.health.v1 Watch", () => {
  it("holds once the service stays SERVING for minHealthyMs", async () => {
    const agent = new FakeNodeAgent();
    const server = await serve(agent);
    await expect(awaitHealthGate(client(server.address), { service: "web", minHealthyMs: 300, healthyDeadlineMs: 10_000 })).resolves.toBeUndefined();
  });

  it("fails with HEALTH_CHECK_FAILED naming the last status when the service never serves in time", async () => {
    const agent = new FakeNodeAgent();
    agent.setHealth("web", "NOT_SERVING");
    const server = await serve(agent);
    await expect(awaitHealthGate(client(server.address), { service: "web", minHealthyMs: 200, healthyDeadlineMs: 1500 })).rejects.toMatchObject({
      code: "HEALTH_CHECK_FAILED",
      message: expect.stringContaining("NOT_SERVING"),
    });
  });

  it("a NOT_SERVING flap resets the clock: flapping faster than minHealthyMs never passes", async () => {
    const agent = new FakeNodeAgent();
    const server = await serve(agent);
    let serving = true;
    const flapper = setInterval(() => {
      serving = !serving;
      agent.setHealth("web", serving ? "SERVING" : "NOT_SERVING");
    }, 150);
    try {
      await expect(awaitHealthGate(client(server.address), { service: "web", minHealthyMs: 600, healthyDeadlineMs: 2500 })).rejects.toMatchObject({ code: "HEALTH_CHECK_FAILED" });
    } finally {
      clearInterval(flapper);
    }
  });

  it("watches again when the agent's server goes away and comes back before the deadline", async () => {
    const agent = new FakeNodeAgent();
    agent.setHealth("web", "NOT_SERVING");
    const first = await serve(agent);
    const address = first.address;
    const gate = awaitHealthGate(client(address), { service: "web", minHealthyMs: 300, healthyDeadlineMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.stop({ graceMs: 0 });
    servers.splice(servers.indexOf(first), 1);
    const restarted = new FakeNodeAgent();
    await serve(restarted, address);
    await expect(gate).resolves.toBeUndefined();
  });
});
