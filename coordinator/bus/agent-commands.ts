import { ErrorCode as NatsErrorCode, type NatsConnection } from "nats";
import { HoistError } from "../../shared/errors/index.ts";
import type { ConnectionLoss } from "./connection-watch.ts";
import { commandSubject, decodeJson, encodeJson, unwrapReply, type AgentVerb, type Reply } from "../../shared/bus/index.ts";

/**
 * Sends one step command to one agent and waits for its reply. A node whose agent is gone fails at
 * once (no responders) and one that hangs fails at the timeout; neither makes the caller hang.
 * `connectionLost` (see ConnectionWatch) ends the wait early with a retryable UNAVAILABLE: the reply
 * of a request in flight when the NATS connection dropped never comes, so ask again under the key.
 */
export async function sendAgentCommand<T>(
  nc: NatsConnection,
  target: { cluster: string; node: string },
  verb: AgentVerb,
  payload: Record<string, unknown>,
  timeoutMs: number,
  options: { connectionLost?: ConnectionLoss } = {},
): Promise<T> {
  const subject = commandSubject(target.cluster, target.node, verb);
  let data: Uint8Array;
  const lost = options.connectionLost;
  let stopWatching: (() => void) | undefined;
  try {
    const request = nc.request(subject, encodeJson({ cluster: target.cluster, ...payload }), { timeout: timeoutMs });
    const reply = lost
      ? await Promise.race([
          request,
          new Promise<never>((_, reject) => {
            request.catch(() => undefined);
            stopWatching = lost.onLost(() =>
              reject(new HoistError("UNAVAILABLE", `the NATS connection dropped while ${target.node} had ${verb} to answer; asking again under the same key`, { retryable: true, details: { node: target.node } })),
            );
          }),
        ])
      : await request;
    data = reply.data;
  } catch (err) {
    if (err instanceof HoistError) throw err;
    const code = (err as { code?: NatsErrorCode }).code; // a nats.js error carries one of its ErrorCode values
    if (code === NatsErrorCode.NoResponders) {
      throw new HoistError("UNAVAILABLE", `node ${target.node} did not answer ${verb}: no agent is listening (is it running and connected to NATS?)`, { cause: err, details: { node: target.node } });
    }
    if (code === NatsErrorCode.Timeout) {
      throw new HoistError("TIMEOUT", `node ${target.node} did not answer ${verb} within ${timeoutMs} ms`, { cause: err, details: { node: target.node } });
    }
    throw new HoistError("UNAVAILABLE", `${verb} to node ${target.node} failed: ${(err as Error).message}`, { cause: err, details: { node: target.node } });
  } finally {
    stopWatching?.();
  }
  return unwrapReply(decodeJson<Reply<T>>(data));
}
