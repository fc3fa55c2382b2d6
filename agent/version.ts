/** The agent's version, reported in its inventory (gRPC, NATS, `hoist status`). */
export const AGENT_VERSION = "0.1.0";
