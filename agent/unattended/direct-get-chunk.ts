import type { NatsConnection } from "nats";
import { HoistError } from "../../shared/errors/index.ts";

/** One stream message read by direct get. */
export interface DirectMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/**
 * Reads the first message on `subject` at or after stream sequence `seq` with one JetStream direct
 * get (`$JS.API.DIRECT.GET.<stream>` with `next_by_subj`, nats-server >= 2.9, stream with
 * `allow_direct` as object stores have): a request answered by any replica, no consumer created.
 * nats.js has this as `jsm.direct.getMessage`, but not in its public types; the wire form is the
 * documented one.
 * @throws HoistError ARTIFACT_FETCH_FAILED (retryable) when the request fails or times out, or the
 *   server answers with a status (404: no such message).
 */
export async function directGetNext(nc: NatsConnection, stream: string, subject: string, seq: number, timeoutMs: number): Promise<DirectMessage> {
  let reply;
  try {
    reply = await nc.request(`$JS.API.DIRECT.GET.${stream}`, JSON.stringify({ seq, next_by_subj: subject }), { timeout: timeoutMs });
  } catch (err) {
    throw new HoistError("ARTIFACT_FETCH_FAILED", `direct get of ${subject} from ${stream} failed: ${(err as Error).message}`, { cause: err, retryable: true });
  }
  const headers = reply.headers;
  if (!headers || headers.hasError) {
    const status = headers ? `${headers.code} ${headers.description}` : "no headers";
    throw new HoistError("ARTIFACT_FETCH_FAILED", `direct get of ${subject} from ${stream} at sequence ${seq} answered ${status}`, { retryable: true, details: { status: headers?.code } });
  }
  return { seq: Number(headers.last("Nats-Sequence")), subject: headers.last("Nats-Subject"), data: reply.data };
}
