import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchArtifact } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const payload = randomBytes(300 * 1024);
const payloadSha = createHash("sha256").update(payload).digest("hex");
const maxBytes = 10 * 1024 * 1024;

async function failure(work: Promise<unknown>): Promise<HoistError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

/** Routes of the test server; each test registers what it needs. */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe("fetchArtifact", () => {
  let server: Server;
  let baseUrl: string;
  const routes = new Map<string, Handler>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const handler = routes.get((req.url ?? "").split("?")[0] ?? "");
      if (handler === undefined) res.writeHead(404, "Not Found").end();
      else handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    routes.set("/artifact", (_req, res) => res.writeHead(200, { "content-length": payload.length }).end(payload));
    routes.set("/redirect", (_req, res) => res.writeHead(302, { location: "/artifact" }).end());
    routes.set("/chunked", (_req, res) => {
      res.writeHead(200);
      res.end(payload);
    });
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("copies a local file into the cache as <sha256>.artifact and reuses it after re-verifying", async () => {
    const dir = await makeTempDir();
    const source = join(dir, "app.tgz");
    await writeFile(source, payload);
    const cache = join(dir, "cache");

    const first = await fetchArtifact({ url: source, sha256: payloadSha, size: payload.length }, cache, { maxBytes });
    expect(first).toEqual({ path: join(cache, `${payloadSha}.artifact`), sha256: payloadSha, size: payload.length, cached: false });
    expect((await readFile(first.path)).equals(payload)).toBe(true);
    expect(await readdir(cache)).toEqual([`${payloadSha}.artifact`]);

    const second = await fetchArtifact({ url: join(dir, "no-longer-there.tgz"), sha256: payloadSha }, cache, { maxBytes });
    expect(second.cached).toBe(true);
  });

  it("fetches a file: URL (upper-case sha256 accepted)", async () => {
    const dir = await makeTempDir();
    const source = join(dir, "with space.tgz");
    await writeFile(source, payload);
    const result = await fetchArtifact({ url: pathToFileURL(source).href, sha256: payloadSha.toUpperCase() }, join(dir, "cache"), { maxBytes });
    expect(result.sha256).toBe(payloadSha);
    expect((await readFile(result.path)).equals(payload)).toBe(true);
  });

  it("downloads over http with progress, following a redirect", async () => {
    const dir = await makeTempDir();
    const progress: Progress[] = [];
    const result = await fetchArtifact({ url: `${baseUrl}/redirect`, sha256: payloadSha }, join(dir, "cache"), {
      maxBytes,
      onProgress: (p) => progress.push(p),
    });
    expect(result.cached).toBe(false);
    expect((await readFile(result.path)).equals(payload)).toBe(true);
    expect(progress.every((p) => p.step === "stage")).toBe(true);
    expect(progress.at(-1)).toMatchObject({ bytes: payload.length, totalBytes: payload.length, percent: 100 });
    const percents = progress.map((p) => p.percent ?? 0);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
  });

  it("downloads a chunked response without content-length", async () => {
    const dir = await makeTempDir();
    const result = await fetchArtifact({ url: `${baseUrl}/chunked`, sha256: payloadSha, size: payload.length }, join(dir, "cache"), { maxBytes });
    expect(result.size).toBe(payload.length);
  });

  it("refuses a sha256 mismatch with expected and actual in the message, leaving nothing in the cache", async () => {
    const dir = await makeTempDir();
    const wrong = "ab".repeat(32);
    const err = await failure(fetchArtifact({ url: `${baseUrl}/artifact`, sha256: wrong }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_CHECKSUM_MISMATCH");
    expect(err.message).toContain(`expected ${wrong}`);
    expect(err.message).toContain(payloadSha);
    expect(err.details).toMatchObject({ expected: wrong, actual: payloadSha });
    expect(await readdir(join(dir, "cache"))).toEqual([]);
  });

  it("refuses a size mismatch announced by content-length", async () => {
    const dir = await makeTempDir();
    const err = await failure(fetchArtifact({ url: `${baseUrl}/artifact`, sha256: payloadSha, size: 10 }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_CHECKSUM_MISMATCH");
    expect(err.message).toContain("expected 10");
    expect(await readdir(join(dir, "cache"))).toEqual([]);
  });

  it("stops reading an endless stream as soon as it passes maxBytes", async () => {
    const dir = await makeTempDir();
    let finished = false;
    let closedEarly = false;
    routes.set("/endless", (_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      res.on("close", () => {
        closedEarly = !finished;
      });
      const pump = (): void => {
        // 1 GiB: the test would time out long before if the client read it all.
        while (sent < 1024 ** 3) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        finished = true;
        res.end();
      };
      pump();
    });
    const err = await failure(fetchArtifact({ url: `${baseUrl}/endless`, sha256: payloadSha }, join(dir, "cache"), { maxBytes: 256 * 1024 }));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain("maxArtifactBytes (262144)");
    expect(finished).toBe(false);
    expect(await readdir(join(dir, "cache"))).toEqual([]);
    await expect.poll(() => closedEarly).toBe(true);
  });

  it("stops reading a stream larger than the expected size", async () => {
    const dir = await makeTempDir();
    const err = await failure(fetchArtifact({ url: `${baseUrl}/chunked`, sha256: payloadSha, size: 1000 }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_CHECKSUM_MISMATCH");
    expect(err.message).toContain("at least");
  });

  it("maps an HTTP error status to ARTIFACT_FETCH_FAILED with the status", async () => {
    const dir = await makeTempDir();
    const err = await failure(fetchArtifact({ url: `${baseUrl}/missing?sig=topsecret`, sha256: payloadSha }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_FETCH_FAILED");
    expect(err.message).toContain("HTTP 404");
    expect(err.message).not.toContain("topsecret");
    expect(err.details).toMatchObject({ status: 404 });
    expect(err.retryable).toBe(false);
  });

  it("refuses a response with a content-encoding (the raw bytes are what the sha256 covers)", async () => {
    const dir = await makeTempDir();
    routes.set("/encoded", (_req, res) => res.writeHead(200, { "content-encoding": "gzip" }).end(payload));
    const err = await failure(fetchArtifact({ url: `${baseUrl}/encoded`, sha256: payloadSha }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_FETCH_FAILED");
    expect(err.message).toContain("content-encoding gzip");
  });

  it("maps a missing local file to ARTIFACT_FETCH_FAILED naming the path", async () => {
    const dir = await makeTempDir();
    const missing = join(dir, "nope.tgz");
    const err = await failure(fetchArtifact({ url: missing, sha256: payloadSha }, join(dir, "cache"), { maxBytes }));
    expect(err.code).toBe("ARTIFACT_FETCH_FAILED");
    expect(err.message).toContain(missing);
  });

  it("refuses relative paths and unknown schemes", async () => {
    const dir = await makeTempDir();
    for (const url of ["relative/app.tgz", "ftp://example.com/app.tgz"]) {
      const err = await failure(fetchArtifact({ url, sha256: payloadSha }, join(dir, "cache"), { maxBytes }));
      expect(err.code).toBe("INVALID_ARGUMENT");
    }
    const bad = await failure(fetchArtifact({ url: "/x", sha256: "not-hex" }, join(dir, "cache"), { maxBytes }));
    expect(bad.code).toBe("INVALID_ARGUMENT");
  });

  it("does not trust a corrupt cached artifact: re-fetches it", async () => {
    const dir = await makeTempDir();
    const cache = join(dir, "cache");
    const source = join(dir, "app.tgz");
    await writeFile(source, payload);
    await fetchArtifact({ url: source, sha256: payloadSha }, cache, { maxBytes });
    const corrupt = Buffer.from(payload);
    corrupt[1000] = (corrupt[1000] ?? 0) ^ 0xff;
    await writeFile(join(cache, `${payloadSha}.artifact`), corrupt);

    const again = await fetchArtifact({ url: source, sha256: payloadSha }, cache, { maxBytes });
    expect(again.cached).toBe(false);
    expect((await readFile(again.path)).equals(payload)).toBe(true);
  });

  it("stops with CANCELLED when the signal is aborted mid-download", async () => {
    const dir = await makeTempDir();
    routes.set("/stall", (_req, res) => {
      res.writeHead(200, { "content-length": payload.length * 2 });
      res.write(payload);
      // never ends: only the client's abort finishes this request
    });
    const controller = new AbortController();
    const err = await failure(
      fetchArtifact({ url: `${baseUrl}/stall`, sha256: payloadSha }, join(dir, "cache"), {
        maxBytes,
        signal: controller.signal,
        onProgress: (p) => {
          if ((p.bytes ?? 0) > 0) controller.abort();
        },
      }),
    );
    expect(err.code).toBe("CANCELLED");
    expect(await readdir(join(dir, "cache"))).toEqual([]);
  });
});
