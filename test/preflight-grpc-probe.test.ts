import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { probeAgentsGrpc } from "../coordinator/health/probe-agents-grpc.ts";
import type { ObservedInventory } from "../shared/inventory/index.ts";
import { sampleInventory } from "./helpers/fake-node-agent.ts";
import { freePort } from "./helpers/sample-service.ts";

function at(address: string): Record<string, ObservedInventory> {
  return { n1: { inventory: { ...sampleInventory(), node: "n1", grpcAddress: address }, seenAt: Date.now() } };
}

describe("probeAgentsGrpc names why an agent's gRPC endpoint cannot be used (real sockets)", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  it("nothing listens on the port: refused", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const failures = await probeAgentsGrpc(["n1"], at(address), { insecure: true, cluster: "c1" });
    expect(failures.n1).toContain(`gRPC at ${address} refused the connection`);
  });

  it("a listener that accepts and never answers: timeout", async () => {
    const sockets: import("node:net").Socket[] = [];
    server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const failures = await probeAgentsGrpc(["n1"], at(`127.0.0.1:${port}`), { insecure: true, cluster: "c1" });
      expect(failures.n1).toContain("(timeout)");
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
