import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "nats";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";

describe("startNatsServer", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("serves JetStream KV and keeps it across a kill and restart", async () => {
    let nc = await connect({ servers: server.url });
    const kv = await nc.jetstream().views.kv("probe");
    await kv.put("k", new TextEncoder().encode("v1"));
    await nc.close();
    await server.kill();
    await server.restart();
    nc = await connect({ servers: server.url });
    const again = await nc.jetstream().views.kv("probe");
    const entry = await again.get("k");
    expect(new TextDecoder().decode(entry!.value)).toBe("v1");
    await nc.close();
  });
});
