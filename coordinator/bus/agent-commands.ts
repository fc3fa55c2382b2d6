import { ErrorCode as NatsErrorCode, type NatsConnection, type NatsError } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import { commandSubject, decodeJson, encodeJson, unwrapReply, type AgentVerb, type Reply } from "../../shared/bus/index.ts";

/**
 * Sends one step command to one agent and waits for its reply. A node whose agent is gone fails at
 * once (no responders) and one that hangs fails at the timeout; neither makes the caller hang.
 */
export async function sendAgentCommand<T>(
  nc: NatsConnection,
  target: { cluster: string; node: string },
  verb: AgentVerb,
  payload: Record<string, unknown>,
  timeoutMs: number,
): Promise<T> {
  const subject = commandSubject(target.cluster, target.node, verb);
  let data: Uint8Array;
  try {
    const reply = await nc.request(subject, encodeJson({ cluster: target.cluster, ...payload }), { timeout: timeoutMs });
    data = reply.data;
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === NatsErrorCode.NoResponders) {
      throw new HoistError("UNAVAILABLE", `node ${target.node} did not answer ${verb}: no agent is listening (is it running and connected to NATS?)`, { cause: err, details: { node: target.node } });
    }
    if (code === NatsErrorCode.Timeout) {
      throw new HoistError("TIMEOUT", `node ${target.node} did not answer ${verb} within ${timeoutMs} ms`, { cause: err, details: { node: target.node } });
    }
    throw new HoistError("UNAVAILABLE", `${verb} to node ${target.node} failed: ${(err as Error).message}`, { cause: err, details: { node: target.node } });
  }
  return unwrapReply(decodeJson<Reply<T>>(data));
}
