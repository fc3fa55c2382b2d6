import { connect, type NatsConnection } from "nats";
import { HoistError } from "../errors/index.ts";

export interface BusConnectOptions {
  servers: string[];
  token?: string;
  name: string;
  /** Agents and coordinators driving a rollout keep trying forever; CLI commands give up after the first failure. */
  reconnectForever?: boolean;
  /** Without reconnectForever: how long to keep reconnecting after losing the connection (default 5 s). */
  reconnectForMs?: number;
  /**
   * Keep nats.js's async stack traces (an Error built for every request, to name the caller when it
   * fails). Default true; a coordinator driving thousands of nodes turns them off: at 1,000 nodes they
   * were ~1.8 CPU-s of a rollout, and Hoist's errors carry codes and messages, not nats.js stacks.
   */
  asyncTraces?: boolean;
}

const RECONNECT_WAIT_MS = 500;

/** Connects to NATS; agents reconnect forever, including when the first connect fails. */
export async function connectBus(options: BusConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      ...(options.token === undefined ? {} : { token: options.token }),
      reconnect: true,
      maxReconnectAttempts: options.reconnectForever ? -1 : Math.max(1, Math.ceil((options.reconnectForMs ?? 5000) / RECONNECT_WAIT_MS)),
      reconnectTimeWait: RECONNECT_WAIT_MS,
      waitOnFirstConnect: options.reconnectForever === true,
      ...(options.asyncTraces === false ? { noAsyncTraces: true } : {}),
    });
  } catch (err) {
    throw new HoistError("UNAVAILABLE", `cannot reach NATS at ${options.servers.join(", ")}: ${(err as Error).message}`, { cause: err });
  }
}
