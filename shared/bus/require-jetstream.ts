import type { NatsConnection } from "nats";
import { HoistError } from "../errors/index.ts";
import { toBusError } from "./retry.ts";

/** How long the one JetStream check may take: a server that answers, answers at once. */
const CHECK_TIMEOUT_MS = 5000;

/**
 * Fails at once, with a message saying what to do, when the NATS server Hoist reached has no
 * JetStream (started without `-js`, or an account without JetStream): the control plane (KV
 * buckets, event stream) lives there, and retrying cannot help. The server's INFO says whether it
 * runs JetStream; when it does not, one account-info request tells a server in a cluster with
 * JetStream elsewhere (it answers) from one that has none (no responders, 503, or an API error).
 * Throws UNAVAILABLE (not retryable) naming `servers`.
 */
export async function requireJetStream(nc: NatsConnection, servers: readonly string[]): Promise<void> {
  if (nc.info?.jetstream === true) return;
  try {
    const jsm = await nc.jetstreamManager({ timeout: CHECK_TIMEOUT_MS });
    await jsm.getAccountInfo();
  } catch (err) {
    const cause = toBusError(err, "checking JetStream");
    if (cause.code === "TIMEOUT") throw cause;
    throw new HoistError(
      "UNAVAILABLE",
      `the NATS server at ${servers.join(", ")} has no JetStream (its answer: ${cause.message}); Hoist keeps its state in JetStream: start nats-server with -js (or jetstream: enabled in its config), or run \`hoist coordinator\` without --nats to start one`,
      { cause: err, retryable: false },
    );
  }
}
