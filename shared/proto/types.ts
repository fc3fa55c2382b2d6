/**
 * The agent's data as plain objects, the way gRPC clients (coordinator, CLI) receive it: the shared
 * API types, plus what only the health protocol has.
 */
export type * from "../types/index.ts";

/** A health answer as the grpc.health.v1 protocol gives it (SERVICE_UNKNOWN only from Watch). */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN";
