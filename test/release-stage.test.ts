import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCurrentVersion, readReleaseMeta, stageRelease, switchCurrent, type StageInput } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { describeFile, makeTarball, writeRawTar, type RawEntry } from "./helpers/tar-writer.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const limits = { maxArtifactBytes: 10 * 1024 * 1024, maxExtractedBytes: 10 * 1024 * 1024, maxEntries: 1000 };

interface Fixture {
  /** Holds everything below; the malicious archives aim at `sentinel`. */
  root: string;
  install: string;
  cache: string;
  artifacts: string;
  sentinel: string;
}

/** An install root with release 1.0.0 staged and active, and a sentinel dir beside it. */
async function setup(): Promise<Fixture> {
  const root = await makeTempDir("hoist-stage-");
  const fixture = {
    root,
    install: join(root, "install"),
    cache: join(root, "cache"),
    artifacts: join(root, "artifacts"),
    sentinel: join(root, "sentinel"),
  };
  await mkdir(fixture.install);
  await mkdir(fixture.artifacts);
  await mkdir(fixture.sentinel);
  await writeFile(join(fixture.sentinel, "keep.txt"), "untouched");
  const v1 = await makeTarball(join(fixture.artifacts, "app-1.0.0.tgz"), { "bin/app": { content: "v1", mode: 0o755 }, "conf/app.yml": "v: 1\n" });
  await stageRelease(input(fixture, "1.0.0", { url: v1.path, sha256: v1.sha256, size: v1.size }));
  await switchCurrent(fixture.install, "1.0.0");
  return fixture;
}

function input(fixture: Fixture, version: string, artifact: StageInput["artifact"], overrides: Partial<StageInput["limits"]> = {}): StageInput {
  return { installRoot: fixture.install, version, artifact, cacheDir: fixture.cache, limits: { ...limits, ...overrides } };
}

/** Every path under `dir` (but `skip`) with its type, mode and content hash or link target. */
async function snapshotTree(dir: string, skip: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const name of (await readdir(current)).sort()) {
      const path = join(current, name);
      if (skip.includes(path)) continue;
      const info = await lstat(path);
      const rel = relative(dir, path);
      if (info.isSymbolicLink()) out.push(`${rel} -> ${await readlink(path)}`);
      else if (info.isDirectory()) {
        out.push(`${rel}/ ${(info.mode & 0o7777).toString(8)}`);
        await walk(path);
      } else {
        const hash = createHash("sha256")
          .update(await readFile(path))
          .digest("hex");
        out.push(`${rel} ${(info.mode & 0o7777).toString(8)} ${hash}`);
      }
    }
  };
  await walk(dir);
  return out;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function failure(work: Promise<unknown>): Promise<HoistError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

describe("stageRelease from the three kinds of url", () => {
  let server: Server;
  let baseUrl: string;
  let served: Map<string, Buffer>;

  beforeAll(async () => {
    served = new Map();
    server = createServer((req, res) => {
      const body = served.get((req.url ?? "").split("?")[0] ?? "");
      if (body === undefined) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": "application/gzip", "content-length": body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each(["path", "file-url", "http"] as const)("stages a good tarball given as %s, next to the active release", async (kind) => {
    const fixture = await setup();
    const v2 = await makeTarball(join(fixture.artifacts, "app-2.0.0.tgz"), { "bin/app": { content: "v2", mode: 0o755 }, "conf/app.yml": "v: 2\n" });
    let url = v2.path;
    if (kind === "file-url") url = pathToFileURL(v2.path).href;
    if (kind === "http") {
      served.set(`/${kind}/app-2.0.0.tgz`, await readFile(v2.path));
      url = `${baseUrl}/${kind}/app-2.0.0.tgz?token=secret`;
    }
    const progress: Progress[] = [];
    const staged = await stageRelease(input(fixture, "2.0.0", { url, sha256: v2.sha256, size: v2.size }), { onProgress: (p) => progress.push(p) });

    const dir = join(fixture.install, "releases", "2.0.0");
    expect(staged).toEqual({ version: "2.0.0", dir, sha256: v2.sha256, alreadyStaged: false });
    expect(await readFile(join(dir, "bin/app"), "utf8")).toBe("v2");
    expect((await stat(join(dir, "bin/app"))).mode & 0o777).toBe(0o755);
    expect(await exists(join(fixture.install, "releases", "2.0.0.partial"))).toBe(false);
    expect(await readCurrentVersion(fixture.install)).toBe("1.0.0");
    expect(await readFile(join(fixture.install, "releases/1.0.0/bin/app"), "utf8")).toBe("v1");
    const meta = await readReleaseMeta(fixture.install, "2.0.0");
    expect(meta).toMatchObject({ version: "2.0.0", sha256: v2.sha256, size: v2.size });
    expect(Number.isNaN(Date.parse(meta?.stagedAt ?? ""))).toBe(false);
    expect(meta?.url).not.toContain("secret");
    expect(await exists(join(fixture.cache, `${v2.sha256}.artifact`))).toBe(true);
    expect(progress.every((p) => p.step === "stage")).toBe(true);
    expect(progress.some((p) => p.message === "extracting")).toBe(true);
    expect(progress.some((p) => p.totalBytes === v2.size)).toBe(true);
  });
});

describe("stageRelease checks the artifact before anything parses it", () => {
  it("refuses a sha256 mismatch: nothing extracted, nothing cached, current untouched", async () => {
    const fixture = await setup();
    const v2 = await makeTarball(join(fixture.artifacts, "app-2.0.0.tgz"), { "would-be-extracted.txt": "x" });
    const wrong = "0".repeat(64);
    const progress: Progress[] = [];
    const err = await failure(stageRelease(input(fixture, "2.0.0", { url: v2.path, sha256: wrong }), { onProgress: (p) => progress.push(p) }));

    expect(err.code).toBe("ARTIFACT_CHECKSUM_MISMATCH");
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(v2.sha256);
    expect(progress.some((p) => p.message === "extracting")).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0.partial/would-be-extracted.txt"))).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0.partial"))).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0"))).toBe(false);
    expect(await readdir(fixture.cache)).toEqual([`${(await describeFile(join(fixture.artifacts, "app-1.0.0.tgz"))).sha256}.artifact`]);
    expect(await readCurrentVersion(fixture.install)).toBe("1.0.0");
  });

  it("refuses a size mismatch even when the sha256 is right", async () => {
    const fixture = await setup();
    const v2 = await makeTarball(join(fixture.artifacts, "app-2.0.0.tgz"), { "would-be-extracted.txt": "x" });
    const progress: Progress[] = [];
    const err = await failure(stageRelease(input(fixture, "2.0.0", { url: v2.path, sha256: v2.sha256, size: v2.size - 1 }), { onProgress: (p) => progress.push(p) }));
    expect(err.code).toBe("ARTIFACT_CHECKSUM_MISMATCH");
    expect(err.message).toContain(String(v2.size - 1));
    expect(progress.some((p) => p.message === "extracting")).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0.partial"))).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0"))).toBe(false);
  });

  it("refuses an artifact over maxArtifactBytes", async () => {
    const fixture = await setup();
    const v2 = await makeTarball(join(fixture.artifacts, "app-2.0.0.tgz"), { "a.txt": "x" });
    const err = await failure(stageRelease(input(fixture, "2.0.0", { url: v2.path, sha256: v2.sha256 }, { maxArtifactBytes: v2.size - 1 })));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain("maxArtifactBytes");
    expect(await exists(join(fixture.install, "releases/2.0.0"))).toBe(false);
  });
});

/** Each case builds an archive aimed at the sentinel dir; `root` is the fixture root (absolute paths). */
interface MaliciousCase {
  name: string;
  archive: (root: string) => Buffer;
  /** Part of the message: the rule. */
  rule: string;
  /** The offending entry named in the message, when there is one. */
  entry?: string;
  overrides?: Partial<StageInput["limits"]>;
}

// releases/2.0.0.partial/../../.. is the fixture root.
const up = "../../../";
const tar = (entries: RawEntry[]) => () => writeRawTar(entries);
const goodTar = writeRawTar([
  { path: "a.txt", body: "A".repeat(3000) },
  { path: "b.txt", body: "B" },
]);

const maliciousCases: MaliciousCase[] = [
  { name: "a '..' path", archive: tar([{ path: `${up}sentinel/evil`, body: "x" }]), rule: "'..' component", entry: `${up}sentinel/evil` },
  {
    name: "a '..' hidden in the middle of a path",
    archive: tar([{ path: `a/b/../../../../../sentinel/evil`, body: "x" }]),
    rule: "'..' component",
    entry: "a/b/../../../../../sentinel/evil",
  },
  {
    name: "a '..' path longer than 100 bytes (pax header)",
    archive: tar([{ path: `${"d/".repeat(60)}${"../".repeat(63)}sentinel/evil`, body: "x" }]),
    rule: "'..' component",
  },
  { name: "an absolute path", archive: (root) => writeRawTar([{ path: join(root, "sentinel/evil"), body: "x" }]), rule: "is absolute" },
  { name: "backslash traversal", archive: tar([{ path: "..\\..\\..\\sentinel\\evil", body: "x" }]), rule: "backslash", entry: "..\\..\\..\\sentinel\\evil" },
  { name: "a drive letter path", archive: tar([{ path: "C:\\x", body: "x" }]), rule: "backslash" },
  { name: "a drive letter with forward slash", archive: tar([{ path: "C:/x", body: "x" }]), rule: "drive letter" },
  {
    name: "a symlink to an absolute target",
    archive: (root) => writeRawTar([{ path: "link", type: "symlink", linkpath: join(root, "sentinel") }]),
    rule: "is absolute",
    entry: "link",
  },
  {
    name: "a symlink whose relative target escapes",
    archive: tar([{ path: "link", type: "symlink", linkpath: `${up}sentinel` }]),
    rule: "resolves outside the extraction directory",
    entry: "link",
  },
  {
    name: "a symlink escaping through another symlink (lexically inside)",
    archive: tar([
      { path: "deep/a/b/l", type: "symlink", linkpath: "../../.." },
      { path: "m", type: "symlink", linkpath: "deep/a/b/l/../.." },
    ]),
    rule: "resolves outside the extraction directory",
    entry: "m",
  },
  {
    name: "the classic link -> /tmp then link/evil",
    archive: tar([
      { path: "link", type: "symlink", linkpath: "/tmp" },
      { path: "link/evil", body: "x" },
    ]),
    rule: "is absolute",
    entry: "link",
  },
  {
    name: "a file written through an (inside) symlink dir",
    archive: tar([
      { path: "sub/", type: "dir" },
      { path: "link", type: "symlink", linkpath: "sub" },
      { path: "link/evil", body: "x" },
    ]),
    rule: 'goes through the symlink "link"',
    entry: "link/evil",
  },
  {
    name: "a file entry replacing a symlink that points outside",
    archive: tar([
      { path: "f", type: "symlink", linkpath: `${up}sentinel/keep.txt` },
      { path: "f", body: "overwritten" },
    ]),
    rule: "earlier entry made it a symlink",
    entry: "f",
  },
  {
    name: "a file entry replacing an inside symlink",
    archive: tar([
      { path: "target", body: "t" },
      { path: "f", type: "symlink", linkpath: "target" },
      { path: "f", body: "overwritten" },
    ]),
    rule: "earlier entry made it a symlink",
    entry: "f",
  },
  {
    name: "a hardlink to a file outside",
    archive: tar([{ path: "h", type: "hardlink", linkpath: `${up}sentinel/keep.txt` }]),
    rule: "hardlink target has a '..' component",
    entry: "h",
  },
  { name: "a hardlink to an absolute path", archive: tar([{ path: "h", type: "hardlink", linkpath: "/etc/passwd" }]), rule: "hardlink target is absolute" },
  {
    name: "a hardlink to a symlink",
    archive: tar([
      { path: "target", body: "t" },
      { path: "l", type: "symlink", linkpath: "target" },
      { path: "h", type: "hardlink", linkpath: "l" },
    ]),
    rule: "is not a regular file earlier in the archive",
    entry: "h",
  },
  { name: "a character device", archive: tar([{ path: "null", type: "char" }]), rule: "device files are not allowed", entry: "null" },
  { name: "a block device", archive: tar([{ path: "sda", type: "block" }]), rule: "device files are not allowed", entry: "sda" },
  { name: "a FIFO", archive: tar([{ path: "pipe", type: "fifo" }]), rule: "FIFOs are not allowed", entry: "pipe" },
  { name: "a setuid file", archive: tar([{ path: "bin/su", body: "x", mode: 0o4755 }]), rule: "setuid/setgid", entry: "bin/su" },
  { name: "a setgid directory", archive: tar([{ path: "shared/", type: "dir", mode: 0o2775 }]), rule: "setuid/setgid", entry: "shared/" },
  { name: "an unsupported entry type (GNU sparse)", archive: tar([{ path: "sparse", type: "S", body: "x" }]), rule: "not supported", entry: "sparse" },
  {
    name: "more entries than maxEntries",
    archive: tar([
      { path: "1", body: "1" },
      { path: "2", body: "2" },
      { path: "3", body: "3" },
    ]),
    rule: "maxEntries (2)",
    entry: "3",
    overrides: { maxEntries: 2 },
  },
  {
    name: "more bytes than maxExtractedBytes (highly compressible)",
    archive: () => gzipSync(writeRawTar([{ path: "zeros", body: Buffer.alloc(256 * 1024) }])),
    rule: "maxExtractedBytes (100000 bytes)",
    entry: "zeros",
    overrides: { maxExtractedBytes: 100_000 },
  },
  {
    name: "a tar.gz cut in half",
    archive: () => {
      const gz = gzipSync(goodTar);
      return gz.subarray(0, gz.length >> 1);
    },
    rule: "truncated or corrupt",
  },
  { name: "a plain tar cut inside a file body", archive: () => goodTar.subarray(0, 1024), rule: "truncated or corrupt" },
  { name: "a plain tar cut at a block boundary (no end marker)", archive: () => writeRawTar([{ path: "a", body: "x" }], { endMarker: false }), rule: "no end-of-archive marker" },
  { name: "a header with a bad checksum", archive: tar([{ path: "a", body: "x", badChecksum: true }]), rule: "checksum failure" },
  { name: "a file that is not an archive", archive: () => Buffer.from("#!/bin/sh\necho I am not a tarball\n"), rule: "neither a gzip-compressed nor a ustar tar" },
  { name: "gzip of something that is not tar", archive: () => gzipSync(Buffer.from("not a tar ".repeat(200))), rule: "truncated or corrupt" },
];

describe("stageRelease refuses unsafe archives and leaves everything else as it was", () => {
  it.each(maliciousCases)("refuses $name", async ({ archive, rule, entry, overrides }) => {
    const fixture = await setup();
    const artifactPath = join(fixture.artifacts, "evil.tgz");
    await writeFile(artifactPath, archive(fixture.root));
    const { sha256, size } = await describeFile(artifactPath);
    const skip = [fixture.cache, fixture.artifacts];
    const before = await snapshotTree(fixture.root, skip);

    const err = await failure(stageRelease(input(fixture, "2.0.0", { url: artifactPath, sha256, size }, overrides)));

    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain(rule);
    if (entry !== undefined) expect(err.message).toContain(JSON.stringify(entry));
    expect(await snapshotTree(fixture.root, skip)).toEqual(before);
    expect(await exists(join(fixture.install, "releases/2.0.0.partial"))).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0"))).toBe(false);
    expect(await readReleaseMeta(fixture.install, "2.0.0")).toBeUndefined();
    expect(await readCurrentVersion(fixture.install)).toBe("1.0.0");
    expect(await readFile(join(fixture.sentinel, "keep.txt"), "utf8")).toBe("untouched");
    expect(await exists(join(fixture.sentinel, "evil"))).toBe(false);
    expect(await exists("/tmp/evil")).toBe(false);
  });
});

describe("stageRelease idempotency and conflicts", () => {
  it("reports alreadyStaged for the same version and sha256 and does no work", async () => {
    const fixture = await setup();
    const v1 = await describeFile(join(fixture.artifacts, "app-1.0.0.tgz"));
    const metaBefore = await readReleaseMeta(fixture.install, "1.0.0");
    const progress: Progress[] = [];
    // The url does not even exist: an already staged release needs no fetch.
    const staged = await stageRelease(input(fixture, "1.0.0", { url: join(fixture.root, "gone.tgz"), sha256: v1.sha256 }), {
      onProgress: (p) => progress.push(p),
    });
    expect(staged).toMatchObject({ version: "1.0.0", alreadyStaged: true, sha256: v1.sha256 });
    expect(await readReleaseMeta(fixture.install, "1.0.0")).toEqual(metaBefore);
    expect(progress.some((p) => p.message === "extracting")).toBe(false);
  });

  it("refuses with WRONG_STATE when the version exists from another artifact, saying whether it is active", async () => {
    const fixture = await setup();
    const other = await makeTarball(join(fixture.artifacts, "other.tgz"), { "bin/app": "other" });
    const err = await failure(stageRelease(input(fixture, "1.0.0", { url: other.path, sha256: other.sha256 })));
    expect(err.code).toBe("WRONG_STATE");
    expect(err.message).toContain(other.sha256);
    expect(err.message).toContain("active release");
    expect(await readFile(join(fixture.install, "releases/1.0.0/bin/app"), "utf8")).toBe("v1");

    const v3 = await makeTarball(join(fixture.artifacts, "app-3.0.0.tgz"), { "bin/app": "v3" });
    await stageRelease(input(fixture, "3.0.0", { url: v3.path, sha256: v3.sha256 }));
    const inactive = await failure(stageRelease(input(fixture, "3.0.0", { url: other.path, sha256: other.sha256 })));
    expect(inactive.code).toBe("WRONG_STATE");
    expect(inactive.message).toContain("prune or remove it first");
    expect(await readFile(join(fixture.install, "releases/3.0.0/bin/app"), "utf8")).toBe("v3");
  });

  it("removes a leftover partial dir from a crashed stage before extracting", async () => {
    const fixture = await setup();
    await mkdir(join(fixture.install, "releases/2.0.0.partial/stale"), { recursive: true });
    await writeFile(join(fixture.install, "releases/2.0.0.partial/stale/old.txt"), "old");
    const v2 = await makeTarball(join(fixture.artifacts, "app-2.0.0.tgz"), { "bin/app": "v2" });
    await stageRelease(input(fixture, "2.0.0", { url: v2.path, sha256: v2.sha256 }));
    expect(await exists(join(fixture.install, "releases/2.0.0/stale"))).toBe(false);
    expect(await exists(join(fixture.install, "releases/2.0.0.partial"))).toBe(false);
  });

  it.each(["../escape", "a/b", ".hidden", "", "1.0.0.partial", "-rf"])("refuses the unsafe version %j", async (version) => {
    const fixture = await setup();
    const v1 = await describeFile(join(fixture.artifacts, "app-1.0.0.tgz"));
    const err = await failure(stageRelease(input(fixture, version, { url: join(fixture.artifacts, "app-1.0.0.tgz"), sha256: v1.sha256 })));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });
});
