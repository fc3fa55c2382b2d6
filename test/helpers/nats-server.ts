import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalNatsServer, type LocalNatsServer } from "../../shared/nats-server/index.ts";

export interface NatsServerHandle extends LocalNatsServer {
  storeDir: string;
}

/**
 * Starts a real nats-server with JetStream (unless `jetstream: false`) on a free port (or `port`)
 * and a temp store; stop() removes the store.
 */
export async function startNatsServer(options: { jetstream?: boolean; port?: number } = {}): Promise<NatsServerHandle> {
  const storeDir = await mkdtemp(join(tmpdir(), "hoist-nats-"));
  const server = await startLocalNatsServer({ storeDir, ...options });
  return Object.assign(Object.create(server) as LocalNatsServer, {
    storeDir,
    async stop() {
      await server.stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  });
}
