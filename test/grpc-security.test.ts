import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackListen } from "../agent/grpc/auth.ts";
import { startAgentGrpcServer, type AgentGrpcConfig, type AgentGrpcServer } from "../agent/grpc/server.ts";
import { HoistError } from "../shared/errors/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { createAgentClient, type AgentClientOptions } from "../shared/proto/index.ts";
import { issueCert, makeCa, type TestCa, type TestCert } from "./helpers/certs.ts";
import { FakeNodeAgent } from "./helpers/fake-node-agent.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

const TOKEN = "s3cret-token-for-tests-0123456789";

let dir: string;
let ca: TestCa;
let serverCert: TestCert;
let coordinatorCert: TestCert;
let intruderCert: TestCert;
let sanOnlyCert: TestCert;
let foreignCoordinatorCert: TestCert;
const servers: AgentGrpcServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hoist-grpc-certs-"));
  ca = await makeCa(dir, "hoist-ca");
  const otherCa = await makeCa(dir, "other-ca");
  [serverCert, coordinatorCert, intruderCert, sanOnlyCert, foreignCoordinatorCert] = await Promise.all([
    issueCert(ca, "server", { cn: "agent-node-1", dns: ["localhost"], ips: ["127.0.0.1"] }),
    issueCert(ca, "coordinator", { cn: "coordinator" }),
    issueCert(ca, "intruder", { cn: "intruder" }),
    issueCert(ca, "ops", { cn: "someone", dns: ["ops.example.org"] }),
    issueCert(otherCa, "coordinator", { cn: "coordinator" }),
  ]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop({ graceMs: 100 })));
  await rm(dir, { recursive: true, force: true });
});

async function serve(config: Partial<AgentGrpcConfig>): Promise<AgentGrpcServer> {
  const server = await startAgentGrpcServer(new FakeNodeAgent(), { listen: "127.0.0.1:0", insecure: false, ...config }, silentLogger());
  servers.push(server);
  return server;
}

/** Asks for the inventory; resolves with the node name or the HoistError code (and gRPC status). */
async function tryInventory(server: AgentGrpcServer, options: AgentClientOptions): Promise<string> {
  const client = createAgentClient(server.address, withServerName(options));
  try {
    return (await client.getInventory({ deadlineMs: 5000 })).node;
  } catch (err) {
    if (!(err instanceof HoistError)) throw err;
    return `${err.code}/${String(err.details.grpcStatus)}`;
  } finally {
    client.close();
  }
}

describe("bearer token", () => {
  it("plaintext on loopback with a token: calls need the right token, health included", async () => {
    const server = await serve({ token: TOKEN });
    expect(await tryInventory(server, { insecure: true, token: TOKEN })).toBe("node-1");
    expect(await tryInventory(server, { insecure: true })).toBe("UNAUTHENTICATED/UNAUTHENTICATED");
    expect(await tryInventory(server, { insecure: true, token: `${TOKEN}x` })).toBe("UNAUTHENTICATED/UNAUTHENTICATED");

    const anonymous = createAgentClient(server.address, { insecure: true });
    const authorized = createAgentClient(server.address, { insecure: true, token: TOKEN });
    try {
      await expect(anonymous.check("")).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      expect(await authorized.check("")).toBe("SERVING");
    } finally {
      anonymous.close();
      authorized.close();
    }
  });

  it("the refusal says what to send, with the code in trailers", async () => {
    const server = await serve({ token: TOKEN });
    const client = createAgentClient(server.address, { insecure: true });
    try {
      const err = await client.getInventory().catch((caught: unknown) => caught);
      expect(err).toMatchObject({ code: "UNAUTHENTICATED", message: expect.stringContaining("authorization: Bearer") });
    } finally {
      client.close();
    }
  });
});

describe("TLS", () => {
  it("TLS + token: a client trusting the CA with the token gets in; without the token it is refused", async () => {
    const server = await serve({ tls: { cert: serverCert.certFile, key: serverCert.keyFile, allowClients: [] }, token: TOKEN });
    expect(await tryInventory(server, { caFile: ca.certFile, token: TOKEN })).toBe("node-1");
    expect(await tryInventory(server, { caFile: ca.certFile })).toBe("UNAUTHENTICATED/UNAUTHENTICATED");
  });

  it("a plaintext client cannot talk to a TLS agent", async () => {
    const server = await serve({ tls: { cert: serverCert.certFile, key: serverCert.keyFile, allowClients: [] }, token: TOKEN });
    expect(await tryInventory(server, { insecure: true, token: TOKEN })).toMatch(/^UNAVAILABLE\//);
  });

  it("a client that does not trust the agent's CA refuses the connection", async () => {
    const server = await serve({ tls: { cert: serverCert.certFile, key: serverCert.keyFile, allowClients: [] }, token: TOKEN });
    const other = await makeCa(dir, "untrusted-ca");
    expect(await tryInventory(server, { caFile: other.certFile, token: TOKEN })).toBe("UNAVAILABLE/UNAVAILABLE");
  });
  it("`hoist agent status --target IP:PORT` over TLS answers without Node's DEP0123 warning on stderr (grpc-js sets SNI to the IP)", async () => {
    const server = await serve({ tls: { cert: serverCert.certFile, key: serverCert.keyFile, allowClients: [] }, token: TOKEN });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const result = await runHoist(["agent", "status", "--target", server.address, "--ca", ca.certFile, "--token", TOKEN, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ node: expect.any(String) });
    expect(result.stderr).not.toContain("DEP0123");
    expect(result.stderr).toBe("");
  });
});

describe("mutual TLS", () => {
  let server: AgentGrpcServer;
  beforeAll(async () => {
    server = await serve({
      tls: { cert: serverCert.certFile, key: serverCert.keyFile, clientCa: ca.certFile, allowClients: ["coordinator", "ops.example.org"] },
    });
  });

  it("a client without a certificate is refused in the handshake", async () => {
    expect(await tryInventory(server, { caFile: ca.certFile })).toBe("UNAVAILABLE/UNAVAILABLE");
  });

  it("a client with a certificate from another CA is refused, even with an allowed CN", async () => {
    expect(await tryInventory(server, { caFile: ca.certFile, ...pair(foreignCoordinatorCert) })).toBe("UNAVAILABLE/UNAVAILABLE");
  });

  it("an allowed CN gets in", async () => {
    expect(await tryInventory(server, { caFile: ca.certFile, ...pair(coordinatorCert) })).toBe("node-1");
  });

  it("an allowed SAN DNS name gets in", async () => {
    expect(await tryInventory(server, { caFile: ca.certFile, ...pair(sanOnlyCert) })).toBe("node-1");
  });

  it("a valid certificate whose names are not allowed gets PERMISSION_DENIED", async () => {
    expect(await tryInventory(server, { caFile: ca.certFile, ...pair(intruderCert) })).toBe("UNAUTHENTICATED/PERMISSION_DENIED");
    const client = createAgentClient(server.address, withServerName({ caFile: ca.certFile, ...pair(intruderCert) }));
    try {
      await expect(client.check("")).rejects.toMatchObject({ details: { grpcStatus: "PERMISSION_DENIED", client: ["intruder"] } });
    } finally {
      client.close();
    }
  });

  it("without allowClients any certificate from the client CA gets in", async () => {
    const open = await serve({ tls: { cert: serverCert.certFile, key: serverCert.keyFile, clientCa: ca.certFile, allowClients: [] } });
    expect(await tryInventory(open, { caFile: ca.certFile, ...pair(intruderCert) })).toBe("node-1");
  });
});

describe("refusing to start without security", () => {
  it.each<[string, Partial<AgentGrpcConfig>, string]>([
    ["insecure on a non-loopback address", { listen: "0.0.0.0:0", insecure: true }, "grpc.tls.cert"],
    ["a token without TLS on a non-loopback address", { listen: "0.0.0.0:0", token: TOKEN }, "grpc.tls.cert"],
    ["nothing configured on loopback", {}, "grpc.insecure: true"],
    ["insecure together with TLS", { insecure: true, tls: { cert: "/nonexistent.crt", key: "/nonexistent.key", allowClients: [] } }, "remove grpc.insecure"],
    ["unreadable certificate files", { tls: { cert: "/nonexistent.crt", key: "/nonexistent.key", allowClients: [] } }, "grpc.tls.cert"],
  ])("%s -> CONFIG_INVALID", async (_name, config, hint) => {
    const started = startAgentGrpcServer(new FakeNodeAgent(), { listen: "127.0.0.1:0", insecure: false, ...config }, silentLogger());
    await expect(started).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining(hint) });
  });

  it.each([
    ["127.0.0.1:7411", true],
    ["127.1.2.3:7411", true],
    ["localhost:7411", true],
    ["[::1]:7411", true],
    ["unix:/run/hoist/agent.sock", true],
    ["0.0.0.0:7411", false],
    ["[::]:7411", false],
    ["10.0.0.5:7411", false],
    ["agent.example.org:7411", false],
    [":7411", false],
  ])("isLoopbackListen(%s) is %s", (listen, expected) => {
    expect(isLoopbackListen(listen)).toBe(expected);
  });
});

/** TLS clients name the certificate's DNS name (Node warns when TLS SNI is an IP address). */
function withServerName(options: AgentClientOptions): AgentClientOptions {
  return options.insecure ? options : { serverName: "localhost", ...options };
}

function pair(cert: TestCert): { certFile: string; keyFile: string } {
  return { certFile: cert.certFile, keyFile: cert.keyFile };
}
