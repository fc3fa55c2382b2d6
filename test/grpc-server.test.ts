import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAgentGrpcServer, type AgentGrpcServer } from "../agent/grpc/server.ts";
import { HoistError, type ErrorCode } from "../shared/errors/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { createAgentClient, loadHoistProto, type AgentClient, type HealthStatus } from "../shared/proto/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { FakeNodeAgent, sampleInventory, untilAborted } from "./helpers/fake-node-agent.ts";
import { waitFor } from "./helpers/wait-for.ts";

const insecureConfig = { listen: "127.0.0.1:0", insecure: true };

let fake: FakeNodeAgent;
let server: AgentGrpcServer;
let client: AgentClient;

beforeAll(async () => {
  fake = new FakeNodeAgent();
  server = await startAgentGrpcServer(fake, insecureConfig, silentLogger());
  client = createAgentClient(server.address, { insecure: true });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

beforeEach(() => {
  fake.overrides = {};
  fake.calls.length = 0;
  fake.setHealth("web", "SERVING");
});

/** A raw generated client, to look at messages and trailers as any gRPC client sees them. */
function rawClient() {
  const { grpcObject } = loadHoistProto();
  return new grpcObject.hoist.agent.v1.Agent(server.address, grpc.credentials.createInsecure());
}

/** Runs a raw Upgrade call to its end: every message, and the final status with trailers. */
function rawUpgrade(request: object): Promise<{ messages: Record<string, unknown>[]; status: grpc.StatusObject }> {
  const raw = rawClient();
  const call = raw.upgrade(request);
  const messages: Record<string, unknown>[] = [];
  call.on("data", (message: Record<string, unknown>) => messages.push(message));
  call.on("error", () => {});
  return new Promise((resolve) =>
    call.on("status", (status: grpc.StatusObject) => {
      raw.close();
      resolve({ messages, status });
    }),
  );
}

describe("Agent service over a real gRPC connection", () => {
  it("GetInventory returns the agent's inventory unchanged through the wire", async () => {
    const inventory = await client.getInventory();
    expect(inventory).toStrictEqual(sampleInventory());
  });

  it("GetInventory answers well under 100 ms (median of 7 calls)", async () => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      await client.getInventory();
      times.push(performance.now() - started);
    }
    const median = times.sort((a, b) => a - b)[3]!;
    console.log(`GetInventory latency: median ${median.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`);
    expect(median).toBeLessThan(100);
  });

  it("ListSnapshots returns the service's snapshots", async () => {
    const snapshots = await client.listSnapshots("web");
    expect(snapshots).toStrictEqual(sampleInventory().services[0]!.snapshots);
    expect(fake.calls.at(-1)).toMatchObject({ method: "listSnapshots", args: ["web"] });
  });

  it("Upgrade streams progress, then exactly one result as the last message", async () => {
    const progress: Progress[] = [];
    const outcome = await client.upgrade({ service: "web", to: "2.0.0", key: "k1", skipDrain: true, artifact: { url: "file:///tmp/a.tar", sha256: "b".repeat(64), size: 10 } }, { onProgress: (item) => progress.push(item) });
    expect(progress.map((item) => item.step)).toEqual(["stage", "snapshot", "switch"]);
    expect(progress[0]).toStrictEqual({ step: "stage", message: "stage done" });
    expect(outcome).toMatchObject({ result: "committed", service: "web", to: "2.0.0", active: "2.0.0", hops: [{ from: "1.1.0", to: "2.0.0" }] });
    expect(fake.calls.at(-1)?.args[0]).toStrictEqual({
      service: "web",
      to: "2.0.0",
      allowDowngrade: false,
      key: "k1",
      skipDrain: true,
      artifact: { url: "file:///tmp/a.tar", sha256: "b".repeat(64), size: 10 },
    });

    const { messages, status } = await rawUpgrade({ service: "web", to: "2.0.0" });
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((message) => message.event)).toEqual(["progress", "progress", "progress", "result"]);
  });

  it("Stage, Snapshot, Restore, Drain and Rejoin reach the agent and return their results", async () => {
    const stageProgress: Progress[] = [];
    expect(await client.stage("web", "2.0.0", { onProgress: (item) => stageProgress.push(item) })).toMatchObject({ version: "2.0.0", active: false });
    expect(stageProgress).toStrictEqual([{ step: "stage", message: "fetching", bytes: 10, totalBytes: 20, percent: 50 }]);
    expect(await client.snapshot("web", { label: "manual" })).toMatchObject({ id: "new", label: "manual", compression: "none" });
    await client.restore("web", "20240101T000000Z-web");
    await client.drain("web");
    await client.rejoin("web");
    expect(fake.calls.map((call) => [call.method, ...call.args])).toEqual([
      ["stage", "web", "2.0.0"],
      ["snapshot", "web"],
      ["restore", "web", "20240101T000000Z-web"],
      ["drain", "web"],
      ["rejoin", "web"],
    ]);
  });

  it("cancelling the client call aborts the signal the agent got", async () => {
    fake.overrides.upgrade = async (_request, options) => {
      options?.onProgress?.({ step: "stage" });
      return untilAborted(options?.signal);
    };
    const controller = new AbortController();
    const upgrade = client.upgrade({ service: "web", to: "2.0.0" }, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(upgrade).rejects.toMatchObject({ code: "CANCELLED" });
    const signal = await waitFor(() => fake.lastOptions("upgrade")?.signal);
    await waitFor(() => signal.aborted, { what: "the agent's signal to abort" });
    expect(signal.reason).toBeInstanceOf(HoistError);
    expect((signal.reason as HoistError).code).toBe("CANCELLED");
  });

  it("a passed deadline fails the call with TIMEOUT and aborts the agent's signal with a TimeoutError", async () => {
    fake.overrides.upgrade = async (_request, options) => untilAborted(options?.signal);
    await expect(client.upgrade({ service: "web", to: "2.0.0" }, { deadlineMs: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
    const signal = await waitFor(() => fake.lastOptions("upgrade")?.signal);
    await waitFor(() => signal.aborted, { what: "the agent's signal to abort" });
    expect((signal.reason as Error).name).toBe("TimeoutError");
  });

  it.each<[ErrorCode, keyof typeof grpc.status, boolean]>([
    ["INVALID_ARGUMENT", "INVALID_ARGUMENT", false],
    ["NOT_FOUND", "NOT_FOUND", false],
    ["WRONG_STATE", "FAILED_PRECONDITION", false],
    ["TIMEOUT", "DEADLINE_EXCEEDED", true],
    ["BUSY", "ABORTED", true],
    ["DISK_FULL", "RESOURCE_EXHAUSTED", false],
    ["SNAPSHOT_CORRUPT", "DATA_LOSS", false],
    ["WRONG_CLUSTER", "PERMISSION_DENIED", false],
  ])("agent error %s -> gRPC %s with the code in trailers (streaming and unary)", async (code, grpcName, retryable) => {
    const error = new HoistError(code, `failed with ${code}: do this`, { details: { service: "web", attempt: 2 } });
    fake.overrides.upgrade = async () => {
      throw error;
    };
    fake.overrides.listSnapshots = async () => {
      throw error;
    };
    const { status } = await rawUpgrade({ service: "web", to: "2.0.0" });
    expect(grpc.status[status.code]).toBe(grpcName);
    expect(status.details).toBe(`failed with ${code}: do this`);
    expect(status.metadata.get("hoist-error-code")).toEqual([code]);
    expect(status.metadata.get("hoist-retryable")).toEqual([String(retryable)]);

    const viaClient = await client.upgrade({ service: "web", to: "2.0.0" }).catch((err: unknown) => err);
    expect(viaClient).toBeInstanceOf(HoistError);
    expect(viaClient).toMatchObject({ code, retryable, message: `failed with ${code}: do this`, details: { service: "web", attempt: 2, grpcStatus: grpcName } });
    await expect(client.listSnapshots("web")).rejects.toMatchObject({ code, retryable });
  });

  it("a foreign error becomes INTERNAL with the message kept", async () => {
    fake.overrides.inventory = async () => {
      throw new TypeError("cannot read properties of undefined");
    };
    const err = await client.getInventory().catch((caught: unknown) => caught);
    expect(err).toMatchObject({ code: "INTERNAL", details: { grpcStatus: "INTERNAL" } });
    expect((err as Error).message).toContain("cannot read properties of undefined");
  });

  it.each([
    ["a version that is a path", { service: "web", to: "../../etc" }, "to"],
    ["an empty service", { service: "", to: "2.0.0" }, "service"],
    ["a bad artifact checksum", { service: "web", to: "2.0.0", artifact: { url: "file:///a.tar", sha256: "xyz" } }, "artifact.sha256"],
  ])("Upgrade with %s is INVALID_ARGUMENT and never reaches the agent", async (_name, request, field) => {
    const { status } = await rawUpgrade(request);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.metadata.get("hoist-error-code")).toEqual(["INVALID_ARGUMENT"]);
    expect(status.details).toContain(`${field}:`);
    expect(fake.calls.filter((call) => call.method === "upgrade")).toHaveLength(0);
  });

  it("an operation for another cluster is refused with WRONG_CLUSTER", async () => {
    const other = createAgentClient(server.address, { insecure: true, cluster: "prod" });
    try {
      await expect(other.upgrade({ service: "web", to: "2.0.0" })).rejects.toMatchObject({ code: "WRONG_CLUSTER", details: { grpcStatus: "PERMISSION_DENIED" } });
      expect(fake.calls.filter((call) => call.method === "upgrade")).toHaveLength(0);
      const same = createAgentClient(server.address, { insecure: true, cluster: "test" });
      await expect(same.drain("web")).resolves.toBeUndefined();
      same.close();
    } finally {
      other.close();
    }
  });
});

describe("grpc.health.v1.Health", () => {
  it('Check answers for the agent ("") and each managed service, NOT_FOUND for other names', async () => {
    expect(await client.check("")).toBe("SERVING");
    expect(await client.check("web")).toBe("SERVING");
    expect(await client.check("db")).toBe("UNKNOWN");
    await expect(client.check("nope")).rejects.toMatchObject({ code: "NOT_FOUND", details: { grpcStatus: "NOT_FOUND" } });
  });

  it("Watch sees SERVING -> NOT_SERVING -> SERVING as the agent flips the service", async () => {
    const controller = new AbortController();
    const seen: HealthStatus[] = [];
    const watching = (async () => {
      for await (const status of client.watch("web", { signal: controller.signal })) {
        seen.push(status);
        if (seen.length === 1) fake.setHealth("web", "NOT_SERVING");
        if (seen.length === 2) fake.setHealth("web", "SERVING");
        if (seen.length === 3) controller.abort();
      }
    })();
    await watching;
    expect(seen).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
  });

  it("Watch of an unknown name reports SERVICE_UNKNOWN and keeps the call open", async () => {
    const controller = new AbortController();
    const seen: HealthStatus[] = [];
    for await (const status of client.watch("later", { signal: controller.signal })) {
      seen.push(status);
      if (seen.length === 1) fake.setHealth("later", "SERVING");
      else controller.abort();
    }
    expect(seen).toEqual(["SERVICE_UNKNOWN", "SERVING"]);
  });
});

describe("server reflection", () => {
  const require = createRequire(import.meta.url);
  const reflectionProto = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");

  function reflect(request: object): Promise<Record<string, any>> {
    const definition = protoLoader.loadSync("grpc/reflection/v1/reflection.proto", { includeDirs: [reflectionProto], keepCase: true, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(server.address, grpc.credentials.createInsecure());
    return new Promise((resolve, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on("data", (response: Record<string, any>) => {
        call.end();
        reflection.close();
        resolve(response);
      });
      call.on("error", reject);
      call.write(request);
    });
  }

  it("lists hoist.agent.v1.Agent and grpc.health.v1.Health, as grpcurl list would", async () => {
    const response = await reflect({ list_services: "*" });
    const names = response.list_services_response.service.map((service: { name: string }) => service.name);
    expect(names).toEqual(expect.arrayContaining(["hoist.agent.v1.Agent", "grpc.health.v1.Health"]));
  });

  /** Wraps FileDescriptorProto bytes into a FileDescriptorSet (field 1, length-delimited), as grpcurl does. */
  function fileDescriptorSet(files: Buffer[]): Buffer {
    const varint = (value: number) => {
      const bytes: number[] = [];
      for (; value > 0x7f; value >>>= 7) bytes.push((value & 0x7f) | 0x80);
      bytes.push(value);
      return Buffer.from(bytes);
    };
    return Buffer.concat(files.flatMap((file) => [Buffer.from([0x0a]), varint(file.length), file]));
  }

  it("describes the Agent service with its methods and dependencies, as grpcurl describe would", async () => {
    const response = await reflect({ file_containing_symbol: "hoist.agent.v1.Agent" });
    const files = response.file_descriptor_response.file_descriptor_proto as Buffer[];
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(fileDescriptorSet(files));
    const agentService = definition["hoist.agent.v1.Agent"] as protoLoader.ServiceDefinition;
    expect(Object.keys(agentService)).toEqual(expect.arrayContaining(["GetInventory", "ListSnapshots", "Stage", "Snapshot", "Restore", "Upgrade", "Rollback", "Drain", "Rejoin"]));
    expect(agentService.Upgrade!.responseStream).toBe(true);
    expect(definition["google.protobuf.Timestamp"]).toBeDefined();
  });
});

describe("stop()", () => {
  let own: AgentGrpcServer | undefined;
  afterEach(async () => {
    await own?.stop();
  });

  it("reports NOT_SERVING to watchers, aborts operations in flight, ends open calls and frees the port", async () => {
    const agent = new FakeNodeAgent();
    agent.overrides.upgrade = async (_request, options) => untilAborted(options?.signal);
    own = await startAgentGrpcServer(agent, insecureConfig, silentLogger());
    const ownClient = createAgentClient(own.address, { insecure: true });
    try {
      const seen: HealthStatus[] = [];
      const watching = (async () => {
        for await (const status of ownClient.watch("")) seen.push(status);
      })().catch((err: unknown) => err);
      const upgrade = ownClient.upgrade({ service: "web", to: "2.0.0" }).catch((err: unknown) => err);
      await waitFor(() => seen.length === 1 && agent.lastOptions("upgrade"));
      await own.stop({ graceMs: 2000 });
      expect(await upgrade).toMatchObject({ code: "CANCELLED", message: "the agent is shutting down" });
      expect(await watching).toMatchObject({ code: "UNAVAILABLE", message: "the agent is shutting down: retry when it is back" });
      expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
      await expect(ownClient.getInventory({ deadlineMs: 2000 })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      ownClient.close();
    }
  });
});
