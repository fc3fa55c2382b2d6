import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect, type NatsConnection, type ObjectStore } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ObjectArtifactFetcher } from "../agent/unattended/object-artifacts.ts";
import { HoistError } from "../shared/errors/index.ts";
import { objectArtifactUrl, OBJECT_ARTIFACTS } from "../shared/unattended/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** 40 chunks of the object store's default 128 KiB plus a short last one. */
const ARTIFACT = randomBytes(40 * 128 * 1024 + 12_345);
const SHA256 = createHash("sha256").update(ARTIFACT).digest("hex");
const URL = objectArtifactUrl(SHA256);

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: ObjectStore;

async function jetStreamAnswers(): Promise<boolean> {
  try {
    await (await nc.jetstreamManager()).getAccountInfo();
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  store = await nc.jetstream().views.os(OBJECT_ARTIFACTS);
  await store.putBlob({ name: SHA256 }, ARTIFACT);
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Leaves a partial download and its resume state in `cacheDir`: a fetch the test interrupts after chunk 5. */
async function interruptAfterFiveChunks(cacheDir: string): Promise<void> {
  const fetcher = new ObjectArtifactFetcher({
    store,
    nc,
    bucket: OBJECT_ARTIFACTS,
    cacheDir,
    onChunk: ({ chunks }) => {
      if (chunks === 5) throw new Error("interrupted by the test");
    },
  });
  await expect(fetcher.fetch(URL)).rejects.toMatchObject({ code: "ARTIFACT_FETCH_FAILED" });
}

describe("object-store artifact download cut by a nats-server SIGKILL", () => {
  it("resumes from the partial file after the server is back: fewer bytes re-fetched than the artifact, digest kept in memory, result byte-identical", async () => {
    const cacheDir = await makeTempDir();
    let killedAt = 0;
    const fetcher = new ObjectArtifactFetcher({
      store,
      nc,
      bucket: OBJECT_ARTIFACTS,
      cacheDir,
      chunkTimeoutMs: 1_000,
      onChunk: async ({ bytes, chunks }) => {
        if (chunks === 15 && killedAt === 0) {
          killedAt = bytes;
          await nats.kill();
        }
      },
    });
    const cut = await fetcher.fetch(URL).catch((err: unknown) => err);
    expect(cut).toBeInstanceOf(HoistError);
    expect((cut as HoistError).code).toBe("ARTIFACT_FETCH_FAILED");
    expect(killedAt).toBe(15 * 128 * 1024);
    expect(await readdir(cacheDir)).not.toContain(`${SHA256}.artifact`);

    await nats.restart();
    await waitFor(jetStreamAnswers, { timeoutMs: 30_000, what: "JetStream back after the restart" });
    const resumed = await fetcher.fetch(URL);
    expect(resumed.resumedFromBytes).toBe(killedAt);
    expect(resumed.fetchedBytes).toBe(ARTIFACT.length - killedAt);
    expect(resumed.fetchedBytes).toBeLessThan(ARTIFACT.length);
    expect(resumed.rehashedBytes).toBe(0);
    expect(Buffer.compare(await readFile(resumed.path), ARTIFACT)).toBe(0);
    expect((await readdir(cacheDir)).sort()).toEqual([`${SHA256}.artifact`]);
  }, 60_000);

  it("an agent restarted after the cut (new fetcher, no digest in memory) resumes too, re-hashing only its own partial file", async () => {
    const cacheDir = await makeTempDir();
    const first = new ObjectArtifactFetcher({
      store,
      nc,
      bucket: OBJECT_ARTIFACTS,
      cacheDir,
      chunkTimeoutMs: 1_000,
      onChunk: async ({ chunks }) => {
        if (chunks === 20) await nats.kill();
      },
    });
    await expect(first.fetch(URL)).rejects.toMatchObject({ code: "ARTIFACT_FETCH_FAILED" });
    await nats.restart();
    await waitFor(jetStreamAnswers, { timeoutMs: 30_000, what: "JetStream back after the restart" });
    const second = await new ObjectArtifactFetcher({ store, nc, bucket: OBJECT_ARTIFACTS, cacheDir }).fetch(URL);
    expect(second.resumedFromBytes).toBe(20 * 128 * 1024);
    expect(second.rehashedBytes).toBe(20 * 128 * 1024);
    expect(second.fetchedBytes).toBe(ARTIFACT.length - 20 * 128 * 1024);
    expect(Buffer.compare(await readFile(second.path), ARTIFACT)).toBe(0);
  }, 60_000);

  it("a partial file corrupted on disk fails the sha256 check, is dropped, and the next fetch brings the whole artifact", async () => {
    const cacheDir = await makeTempDir();
    await interruptAfterFiveChunks(cacheDir);
    const partial = join(cacheDir, `${SHA256}.object-partial`);
    const bytes = await readFile(partial);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(partial, bytes);
    const fresh = new ObjectArtifactFetcher({ store, nc, bucket: OBJECT_ARTIFACTS, cacheDir });
    await expect(fresh.fetch(URL)).rejects.toMatchObject({ code: "ARTIFACT_CHECKSUM_MISMATCH" });
    expect(await readdir(cacheDir)).toEqual([]);
    const whole = await fresh.fetch(URL);
    expect(whole.fetchedBytes).toBe(ARTIFACT.length);
    expect(Buffer.compare(await readFile(whole.path), ARTIFACT)).toBe(0);
  }, 60_000);

  it("a resume state that is not well-formed or lies beyond the object is dropped: the next fetch starts over, not at a NaN or past-the-end offset", async () => {
    for (const broken of [
      { bytes: "many", chunks: 5, nextSeq: 6 },
      { bytes: ARTIFACT.length * 2, chunks: 5, nextSeq: 6 },
      { bytes: 0, chunks: 1_000, nextSeq: 6 },
    ]) {
      const cacheDir = await makeTempDir();
      await interruptAfterFiveChunks(cacheDir);
      const statePath = join(cacheDir, `${SHA256}.object-partial.json`);
      const saved = JSON.parse(await readFile(statePath, "utf8")) as Record<string, unknown>;
      await writeFile(statePath, JSON.stringify({ ...saved, ...broken }));
      const again = await new ObjectArtifactFetcher({ store, nc, bucket: OBJECT_ARTIFACTS, cacheDir }).fetch(URL);
      expect(again.resumedFromBytes, JSON.stringify(broken)).toBe(0);
      expect(again.fetchedBytes).toBe(ARTIFACT.length);
      expect(Buffer.compare(await readFile(again.path), ARTIFACT)).toBe(0);
    }
  }, 60_000);
});
