import type { Logger } from "../../shared/logger/index.ts";

/** Finds the other nodes of the cluster serving a service now (the NATS bus reads them from the inventory). */
export type PeersInService = (service: string) => Promise<string[]>;

const PEER_LOOKUP_MS = 2000;

/**
 * HOIST_PEERS (space-separated node names of the peers in service) and HOIST_PEER (the first one)
 * for a hook, so that a rejoin can say `join_cluster $HOIST_PEER` instead of a peer hard-coded per
 * node. Without a bus (single server) both are left out; a lookup that fails or takes longer than
 * 2 s gives empty values and a warning, never a failed hook.
 */
export async function peerEnv(peers: PeersInService | undefined, service: string, logger: Logger): Promise<Record<string, string>> {
  if (!peers) return {};
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      peers(service),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PEER_LOOKUP_MS} ms`)), PEER_LOOKUP_MS);
      }),
    ]);
    return { HOIST_PEERS: found.join(" "), HOIST_PEER: found[0] ?? "" };
  } catch (err) {
    logger.warn({ err, service }, "could not list the peers in service; hooks get empty HOIST_PEERS");
    return { HOIST_PEERS: "", HOIST_PEER: "" };
  } finally {
    clearTimeout(timer);
  }
}
