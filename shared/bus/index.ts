export * from "./subjects.ts";
export * from "./messages.ts";
export { encodeJson, decodeJson } from "./codec.ts";
export { connectBus, type BusConnectOptions } from "./connect.ts";
export { ensureEventsStream, openBuckets, defaultReplicas, parseReplicas, type HoistBuckets, type Replicas, type AssetOptions } from "./ensure.ts";
export { toBusError, isTransientBusError, retryBus, formatBusWait, type BusWait, type RetryBusOptions } from "./retry.ts";
export { readLatest } from "./read-latest.ts";
export { requireJetStream } from "./require-jetstream.ts";
