import type { KV } from "nats";
import { decodeJson, toBusError } from "../../shared/bus/index.ts";

/** The desired version of every CLUSTER/SERVICE (KV hoist_desired), as findDrift takes it. */
export async function readDesired(kv: KV): Promise<Record<string, string>> {
  const desired: Record<string, string> = {};
  try {
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry && entry.operation === "PUT" && entry.value.length > 0) desired[key.replace(".", "/")] = decodeJson<string>(entry.value);
    }
  } catch (err) {
    throw toBusError(err, "reading the desired versions");
  }
  return desired;
}
