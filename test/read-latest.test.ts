import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KV, type NatsConnection } from "nats";
import { readLatest } from "../shared/bus/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";

/**
 * readLatest under concurrent writes, on a real nats-server: the KV watch's own "initialized"
 * signal can come before the replay is over when keys are written meanwhile (the fleet bench lost
 * inventories that way); every read here must still see every key.
 */

let server: NatsServerHandle;
let nc: NatsConnection;
let kv: KV;
const KEYS = 2000;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  kv = await nc.jetstream().views.kv("read_latest_test", { history: 1 });
  await Promise.all(Array.from({ length: KEYS }, (_, index) => kv.put(`c1.n${index}`, new TextEncoder().encode(JSON.stringify({ index, round: 0 })))));
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe("readLatest", () => {
  it("sees every key while other writers keep updating them (20 reads of 2,000 keys during a stream of updates; the watch signal alone returned 1,893 of them in one)", async () => {
    let writing = true;
    let round = 0;
    const writer = (async () => {
      while (writing) {
        round += 1;
        await Promise.all(Array.from({ length: 200 }, (_, offset) => kv.put(`c1.n${(round * 200 + offset) % KEYS}`, new TextEncoder().encode(JSON.stringify({ round })))));
      }
    })();
    const sizes: number[] = [];
    try {
      for (let read = 0; read < 20; read++) sizes.push((await readLatest(kv, "c1.*", "test read")).size);
    } finally {
      writing = false;
      await writer;
    }
    expect(round, "updates written during the reads").toBeGreaterThan(0);
    expect(sizes).toEqual(Array.from({ length: 20 }, () => KEYS));
  });

  it("leaves deleted keys out and reads an empty filter at once", async () => {
    await kv.put("c2.a", new TextEncoder().encode("1"));
    await kv.put("c2.b", new TextEncoder().encode("2"));
    await kv.delete("c2.b");
    expect([...(await readLatest(kv, "c2.*", "test read")).keys()]).toEqual(["c2.a"]);
    expect((await readLatest(kv, "nobody.*", "test read")).size).toBe(0);
  });
});
