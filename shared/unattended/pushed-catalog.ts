import type { KeyObject } from "node:crypto";
import type { KV } from "nats";
import { catalogSchema, type Catalog } from "../catalog/index.ts";
import { parseWithSchema } from "../config/index.ts";
import { storedDesiredSchema } from "./records.ts";
import { verifyText } from "./signature.ts";
import { decodeJson } from "../bus/index.ts";

/** The key of the catalog every cluster uses unless it has its own (`hoist release push` without --cluster). */
export const ALL_CLUSTERS_CATALOG = "_all";

/**
 * The catalog `hoist release push` stored in KV `hoist_catalog` for `cluster` (else the one for all
 * clusters), its signature checked against `publicKeys` when any are configured; undefined when none
 * was pushed. Stored like the desired state: canonical JSON text plus an optional signature.
 * @throws HoistError SIGNATURE_INVALID, CONFIG_INVALID (the stored catalog does not validate).
 */
export async function readPushedCatalog(kv: KV, cluster: string, publicKeys: readonly KeyObject[]): Promise<Catalog | undefined> {
  for (const key of [cluster, ALL_CLUSTERS_CATALOG]) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.value.length === 0) continue;
    const stored = parseWithSchema(storedDesiredSchema, decodeJson(entry.value), `the catalog in KV (key ${key})`);
    verifyText("the catalog", stored.text, stored.signature, publicKeys);
    return parseWithSchema(catalogSchema, JSON.parse(stored.text), `the catalog in KV (key ${key})`);
  }
  return undefined;
}
