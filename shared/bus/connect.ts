import { connect, type NatsConnection } from "nats";
import { HoistError } from "../errors/index.ts";

export interface BusConnectOptions {
  servers: string[];
  token?: string;
  name: string;
  /** Agents keep trying forever; CLI commands give up after the first failure. */
  reconnectForever?: boolean;
}

/** Connects to NATS; agents reconnect forever, including when the first connect fails. */
export async function connectBus(options: BusConnectOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      ...(options.token === undefined ? {} : { token: options.token }),
      reconnect: true,
      maxReconnectAttempts: options.reconnectForever ? -1 : 10,
      reconnectTimeWait: 500,
      waitOnFirstConnect: options.reconnectForever === true,
    });
  } catch (err) {
    throw new HoistError("UNAVAILABLE", `cannot reach NATS at ${options.servers.join(", ")}: ${(err as Error).message}`, { cause: err });
  }
}
