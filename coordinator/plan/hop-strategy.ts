import type { Hop } from "../../shared/catalog/index.ts";

/** How a hop is carried out: node by node with mixed versions, or every node stopped at once. */
export type HopMode = "rolling" | "full-stop";

export interface HopStrategy {
  mode: HopMode;
  /** Why, in words for the plan output. */
  reason: string;
}

export const REASON_ROLLING = "the catalog allows the old and new version side by side";
export const REASON_CATALOG_DEFAULT = "the catalog does not allow mixed versions for this hop";
export const REASON_SINGLE_NODE = "single node: there is no other node to keep serving";

/**
 * Decides rolling or full-stop for one hop, first rule that applies:
 * 1. the catalog says `rolling: false`: full-stop, with the catalog's `fullStopReason`;
 * 2. a downgrade: full-stop. The catalog's `rolling` flag vouches for the old and the new version
 *    side by side on the way up only; data the newer version wrote (after its migrations) may not
 *    be readable by the older one while the newer one keeps writing.
 * 3. one node in the cluster: full-stop, as there is nobody to keep serving;
 * 4. otherwise rolling.
 * `clusterNodes` is the size of the whole cluster, not of the nodes the hop still has to upgrade.
 */
export function decideHopStrategy(hop: Pick<Hop, "from" | "to" | "release" | "downgrade">, clusterNodes: number): HopStrategy {
  if (!hop.release.rolling) {
    return { mode: "full-stop", reason: hop.release.fullStopReason?.trim() || REASON_CATALOG_DEFAULT };
  }
  if (hop.downgrade) {
    return {
      mode: "full-stop",
      reason: `downgrade from ${hop.from} to ${hop.to}: the catalog vouches for mixed versions only on the way up`,
    };
  }
  if (clusterNodes <= 1) return { mode: "full-stop", reason: REASON_SINGLE_NODE };
  return { mode: "rolling", reason: REASON_ROLLING };
}
