import { mkdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readJsonIfExists, writeJsonAtomic } from "../../shared/fs/index.ts";
import { errorReply, okReply, type Reply } from "../../shared/bus/index.ts";

interface StoredReply {
  verb: string;
  service: string;
  key: string;
  reply: Reply<unknown>;
  at: string;
}

/**
 * Pure: whether a verb's reply is its outcome under the key. Successes are, and failures that
 * retrying cannot change (a hook that failed, a wrong state); retryable ones (BUSY, TIMEOUT,
 * UNAVAILABLE) and CANCELLED (the agent was stopping) are not, so asking again runs the verb again.
 */
export function isFinalReply(reply: Reply<unknown>): boolean {
  return reply.ok || (!reply.error.retryable && reply.error.code !== "CANCELLED");
}

/**
 * Idempotency by key for the verbs the NodeAgent does not deduplicate itself (stage, drain, rejoin,
 * stop, start): the reply is recorded on disk under (verb, service, key) — temp + fsync + rename —
 * and a repeat gets the recorded reply without running anything; a repeat while the first still
 * runs waits for the same run. An agent killed between running the verb and recording it runs the
 * verb again on the repeat (the verbs themselves are safe to repeat in that case).
 */
export class KeyedOutcomes {
  private readonly running = new Map<string, Promise<Reply<unknown>>>();

  constructor(private readonly dir: string) {}

  /** The recorded reply for the key, else runs `run` once (concurrent repeats share it) and records a final reply. */
  async once(id: { verb: string; service: string; key: string | undefined }, run: () => Promise<unknown>): Promise<Reply<unknown>> {
    const { verb, service, key } = id;
    if (key === undefined) return replyOf(run);
    const path = this.pathOf(verb, service, key);
    const attached = this.running.get(path);
    if (attached) return attached;
    const work = (async () => {
      const stored = await readJsonIfExists<StoredReply>(path);
      if (stored && stored.key === key && stored.verb === verb && stored.service === service) return stored.reply;
      const reply = await replyOf(run);
      if (isFinalReply(reply)) {
        await mkdir(this.dir, { recursive: true });
        await writeJsonAtomic(path, { verb, service, key, reply, at: new Date().toISOString() } satisfies StoredReply);
      }
      return reply;
    })();
    this.running.set(path, work);
    try {
      return await work;
    } finally {
      this.running.delete(path);
    }
  }

  private pathOf(verb: string, service: string, key: string): string {
    return join(this.dir, `${createHash("sha256").update(`${verb}\0${service}\0${key}`).digest("hex").slice(0, 32)}.json`);
  }
}

async function replyOf(run: () => Promise<unknown>): Promise<Reply<unknown>> {
  try {
    return okReply((await run()) ?? null);
  } catch (err) {
    return errorReply(err);
  }
}
