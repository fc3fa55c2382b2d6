import { createServer } from "node:net";

/** Linux hands out source ports of outgoing connections from 32768-60999 (ip_local_port_range). */
const LOW = 20_000;
const HIGH = 32_000;

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 now, for a server a test or the demo starts later. Chosen below the
 * kernel's ephemeral range on purpose: a port from that range can be taken as the *source* port of
 * any outgoing connection while its server is stopped (say, during an upgrade), and the restarted
 * server then fails with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on 127.0.0.1`);
}
