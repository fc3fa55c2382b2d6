import type { KV, KvEntry } from "nats";
import { Bucket } from "nats/lib/jetstream/kv.js";
import { HoistError } from "../errors/index.ts";
import { toBusError } from "./retry.ts";

/** How long the initial values may take before the read is given up (retryable). */
const INITIAL_VALUES_MS = 10_000;

/**
 * The last value of every key of `kv` matching `filter`, read with one KV watch that stops once the
 * initial values are in (1,000 records in ~40 ms, where a key listing and a get per key took ~160 ms).
 * Deleted keys are left out.
 *
 * "Once the initial values are in" is counted, not trusted to the watch's own signal: nats.js calls
 * initializedFn at the first message whose pending count is 0, and under concurrent writes that
 * count can reach 0 and grow again before the replay is over (nats-io/nats.py#995 describes the
 * same in the Python client), so a watch stopped there returns part of the keys: the fleet bench
 * saw preflights fail with nodes that "never published" while 1,000 agents heartbeated. The stream
 * says first how many subjects (keys) match; the read ends when the watch said it is initialized
 * and at least that many keys came. Keys written meanwhile only add to them.
 * @throws HoistError TIMEOUT (retryable) when the initial values do not arrive within 10 s.
 */
export async function readLatest(kv: KV, filter: string, what: string): Promise<Map<string, KvEntry>> {
  if (!(kv instanceof Bucket)) throw new HoistError("INTERNAL", `${what}: not a JetStream KV bucket of nats.js`);
  const entries = new Map<string, KvEntry>();
  const seen = new Set<string>();
  const state: { initialized: boolean; done: boolean; stop?: () => void } = { initialized: false, done: false };
  let expected = 0;
  const check = () => {
    if (!state.done && state.initialized && seen.size >= expected) {
      state.done = true;
      state.stop?.();
    }
  };
  try {
    const info = await kv.jsm.streams.info(kv.stream, { subjects_filter: `${kv.prefix}.${filter}` });
    expected = Object.keys(info.state.subjects ?? {}).length;
    const watcher = await kv.watch({
      key: filter,
      initializedFn: () => {
        state.initialized = true;
        check();
      },
    });
    state.stop = () => watcher.stop();
    if (state.done) watcher.stop();
    const timer = setTimeout(() => watcher.stop(), INITIAL_VALUES_MS);
    try {
      for await (const entry of watcher) {
        seen.add(entry.key);
        if (entry.operation === "PUT" && entry.value.length > 0) entries.set(entry.key, entry);
        else entries.delete(entry.key);
        check();
      }
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    throw toBusError(err, what);
  }
  if (!state.done) throw new HoistError("TIMEOUT", `${what}: the values in KV did not arrive within ${INITIAL_VALUES_MS} ms (${seen.size} of ${expected} keys)`, { retryable: true });
  return entries;
}
