/**
 * The gRPC contract as both sides use it: the loaded proto (hoist.agent.v1 + grpc.health.v1),
 * conversions between wire messages and plain objects, request schemas, the error trailers, and
 * the typed agent client. Generated types live in ./generated (never edited by hand; regenerate
 * with `npm run gen:proto`).
 */
export { LOAD_OPTIONS, AGENT_GRPC_SERVICE_NAME, HEALTH_SERVICE_NAME, PROTO_DIR, AGENT_PROTO_FILE, HEALTH_PROTO_DIR, HEALTH_PROTO_FILE, loadHoistProto, type HoistProtoGrpcType } from "./load.ts";
export { reflectionDefinition, contractFileDescriptors } from "./reflection-files.ts";
export * from "./convert.ts";
export * from "./schemas.ts";
export { ERROR_CODE_TRAILER, RETRYABLE_TRAILER, DETAILS_TRAILER, hoistErrorFromStatus } from "./errors.ts";
export { createAgentClient, type AgentClient, type AgentClientOptions, type CallOptions, type OperationOptions } from "./agent-client.ts";
export type * from "./types.ts";
export type { AgentHandlers } from "./generated/hoist/agent/v1/Agent.ts";
export type { Progress as WireProgress } from "./generated/hoist/agent/v1/Progress.ts";
export type { HealthCheckResponse__Output } from "./generated/grpc/health/v1/HealthCheckResponse.ts";
