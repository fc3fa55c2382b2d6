export * from "./subjects.ts";
export * from "./messages.ts";
export { encodeJson, decodeJson } from "./codec.ts";
export { connectBus, type BusConnectOptions } from "./connect.ts";
export { ensureEventsStream, openBuckets, type HoistBuckets } from "./ensure.ts";
