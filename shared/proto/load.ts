import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as AgentProtoGrpcType } from "./generated/agent.ts";
import type { ProtoGrpcType as HealthProtoGrpcType } from "./generated/health.ts";

/**
 * Options for @grpc/proto-loader. They must match the flags of scripts/gen-proto.sh, or the
 * generated types would not describe the objects the loader produces:
 * camelCase field names, 64-bit integers as JS numbers (byte counts stay far below 2^53),
 * enums as their string names, defaults filled in for absent non-optional fields, and a virtual
 * field naming the member set in each oneof (`event: "progress" | "result"`).
 */
export const LOAD_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** The Agent gRPC service's full name, as clients and reflection see it (the NATS micro service is AGENT_MICRO_SERVICE_NAME, shared/bus). */
export const AGENT_GRPC_SERVICE_NAME = "hoist.agent.v1.Agent";
/** The standard health service's full name. */
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

/** Directory holding hoist/agent/v1/agent.proto. */
export const PROTO_DIR = resolve(import.meta.dirname, "..", "..", "proto");
/** Path of the agent contract. */
export const AGENT_PROTO_FILE = "hoist/agent/v1/agent.proto";

const require = createRequire(import.meta.url);
/** Include dir holding health/v1/health.proto, as shipped with grpc-health-check. */
export const HEALTH_PROTO_DIR = resolve(dirname(require.resolve("grpc-health-check/package.json")), "proto");
/** Path of the health contract inside HEALTH_PROTO_DIR. */
export const HEALTH_PROTO_FILE = join("health", "v1", "health.proto");

/** Agent and health types together, as grpc.loadPackageDefinition returns them. */
export type HoistProtoGrpcType = AgentProtoGrpcType & HealthProtoGrpcType;

let cached: { definition: protoLoader.PackageDefinition; grpcObject: HoistProtoGrpcType } | undefined;

/**
 * Loads agent.proto and health.proto once (synchronously, a few ms) with LOAD_OPTIONS.
 * `definition` is what reflection describes; `grpcObject` holds the typed client constructors and
 * service definitions (`grpcObject.hoist.agent.v1.Agent.service`).
 */
export function loadHoistProto(): { definition: protoLoader.PackageDefinition; grpcObject: HoistProtoGrpcType } {
  if (cached) return cached;
  const definition = protoLoader.loadSync([AGENT_PROTO_FILE, HEALTH_PROTO_FILE], {
    ...LOAD_OPTIONS,
    includeDirs: [PROTO_DIR, HEALTH_PROTO_DIR],
  });
  const grpcObject = grpc.loadPackageDefinition(definition) as unknown as HoistProtoGrpcType;
  cached = { definition, grpcObject };
  return cached;
}
