import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startRealAgent } from "./helpers/real-agent.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
/** Debian's interpreter: python3-grpcio and python3-protobuf install there (scripts/setup.sh), not into a pyenv. */
const PYTHON = "/usr/bin/python3";
const CLIENT = join(import.meta.dirname, "fixtures", "reflection-client.py");

describe("gRPC reflection serves descriptors a client that is not grpc-js can use", () => {
  it("a Python client built from reflection alone (descriptor_pool, no Hoist .proto) calls GetInventory on a real agent and reads snake_case fields and Timestamps", { timeout: 60_000 }, async () => {
    const agent = await startRealAgent({ node: "py-node", cluster: "py-cluster" });
    expect((await agent.client.upgrade({ service: "kv", to: "1.0.0" })).result).toBe("committed");

    // The reflection protocol's own messages, as the grpcio-reflection package would ship them.
    const reflectionSet = join(await makeTempDir(), "reflection.binpb");
    const reflectionProto = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
    await run("protoc", [`--descriptor_set_out=${reflectionSet}`, "-I", reflectionProto, "grpc/reflection/v1/reflection.proto"]);

    const { stdout } = await run(PYTHON, [CLIENT, agent.address, reflectionSet], { timeout: 30_000 });
    const result = JSON.parse(stdout);
    expect(result.agentFile).toBe("hoist/agent/v1/agent.proto");
    expect(result.files).toEqual(["google/protobuf/timestamp.proto", "hoist/agent/v1/agent.proto"]);
    expect(result.inventoryFields).toEqual(expect.arrayContaining(["node", "cluster", "agent_version", "grpc_address", "services", "host"]));
    expect(result.inventory).toMatchObject({ node: "py-node", cluster: "py-cluster", agent_version: expect.any(String), grpc_address: agent.address });
    const kv = result.inventory.services.find((service: { name: string }) => service.name === "kv");
    expect(kv).toMatchObject({ name: "kv", active_version: "1.0.0", active_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Python's json_format knew the field as google.protobuf.Timestamp (the well-known type), so it printed RFC 3339.
    const inventory = await agent.client.getInventory();
    const started = inventory.services.find((service) => service.name === "kv")!.lastUpgrade!.startedAt;
    expect(kv.last_upgrade).toMatchObject({ to: "1.0.0", started_at: started });
  });
});
