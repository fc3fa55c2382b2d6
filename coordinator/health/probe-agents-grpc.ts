import type { ObservedInventory } from "../../shared/inventory/index.ts";
import { createAgentClient, type AgentClientOptions } from "../../shared/proto/index.ts";
import { toHoistError } from "../../shared/errors/index.ts";

/** How long one agent may take to answer the preflight's gRPC health check. */
export const GRPC_PROBE_DEADLINE_MS = 5000;

/**
 * How many agents are probed at once. All 1,000 of a fleet at once opened 1,000 HTTP/2 connections
 * in one burst and timed most of them out on a loaded machine (the fleet bench's preflight failed
 * for every node); each probe's deadline starts when it starts, so waiting in line costs no timeout.
 */
const PROBES_AT_ONCE = 64;

/** The gist of a gRPC transport error: OpenSSL's reason, else its first line without the client's generic hint. */
function gist(message: string): string {
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(message);
  if (ssl) return ssl[1]!;
  return message
    .split("\n", 1)[0]!
    .replace(/; check that the agent runs.*$/, "")
    .replace(/^agent at \S+: /, "");
}

/** Why the agent's gRPC endpoint could not be used, in words an operator can act on. */
export function describeGrpcFailure(address: string, code: string, message: string, options: AgentClientOptions): string {
  const reason = gist(message);
  const lower = message.toLowerCase();
  if (code === "TIMEOUT") return `gRPC at ${address} did not answer within ${GRPC_PROBE_DEADLINE_MS / 1000} s (timeout)`;
  if (code === "UNAUTHENTICATED") return `gRPC at ${address} refused the credentials (${reason}): give the agents' token (--agent-token) or client certificate (--agent-cert, --agent-key)`;
  if (lower.includes("econnrefused")) return `gRPC at ${address} refused the connection: is the agent's grpc: listener up?`;
  if (!options.insecure && /ssl routines|tls|handshake|certificate/.test(lower)) {
    return `TLS mismatch with gRPC at ${address} (${reason}): the rollout uses TLS; plaintext agents need --agent-insecure, TLS agents the CA of their certificates (--agent-ca)`;
  }
  if (options.insecure) return `gRPC at ${address} failed over plaintext (${reason}): if the agent uses TLS, give --agent-ca instead of --agent-insecure`;
  return `gRPC at ${address} failed: ${reason}`;
}

/**
 * Opens each planned node's gRPC endpoint (its published grpcAddress) with the rollout's settings
 * (TLS or plaintext, CA, client certificate, token) and asks its health service about the agent,
 * as the health gate will. Returns, per node that failed, why (TLS mismatch, refused, timeout ...),
 * for the preflight (`grpcUnreachable`). Nodes without an inventory or address are left to the
 * preflight's other checks. Up to PROBES_AT_ONCE nodes are asked at a time, each within GRPC_PROBE_DEADLINE_MS.
 */
export async function probeAgentsGrpc(nodes: readonly string[], inventories: Readonly<Record<string, ObservedInventory | undefined>>, options: AgentClientOptions & { cluster: string }): Promise<Record<string, string>> {
  const failures: Record<string, string> = {};
  const probe = async (node: string): Promise<void> => {
    const address = inventories[node]?.inventory.grpcAddress;
    if (!address) return;
    let client: ReturnType<typeof createAgentClient> | undefined;
    try {
      client = createAgentClient(address, options);
      await client.check("", { deadlineMs: GRPC_PROBE_DEADLINE_MS });
    } catch (err) {
      const error = toHoistError(err);
      failures[node] = describeGrpcFailure(address, error.code, error.message, options);
    } finally {
      client?.close();
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < nodes.length) await probe(nodes[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PROBES_AT_ONCE, nodes.length) }, worker));
  return failures;
}
