import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSnapshot, listSnapshots, pruneSnapshots, readSnapshotManifest, restoreSnapshot, verifySnapshot } from "../agent/snapshot/index.ts";
import type { HoistError } from "../shared/errors/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const isRoot = process.getuid?.() === 0;

/** A data dir with every kind of entry a snapshot keeps. */
async function makeRichDataDir(dir: string): Promise<void> {
  await mkdir(join(dir, "db", "pages"), { recursive: true });
  await mkdir(join(dir, "empty", "nested-empty"), { recursive: true });
  await writeFile(join(dir, "db", "meta.json"), JSON.stringify({ schema: 3 }));
  await writeFile(join(dir, "db", "secret.key"), "k3y", { mode: 0o600 });
  await writeFile(join(dir, "run.sh"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await writeFile(join(dir, "readonly.txt"), "ro");
  await chmod(join(dir, "readonly.txt"), 0o444);
  await writeFile(join(dir, "empty-file"), "");
  await writeFile(join(dir, "group-writable"), "gw");
  await chmod(join(dir, "group-writable"), 0o666);
  await writeFile(join(dir, "suid-tool"), "#!/bin/sh\n");
  await chmod(join(dir, "suid-tool"), 0o4755);
  await writeFile(join(dir, "big.bin"), randomBytes(5 * 1024 * 1024));
  for (let i = 0; i < 2000; i++) {
    const sub = join(dir, "db", "pages", String(i % 20));
    if (i < 20) await mkdir(sub);
    await writeFile(join(sub, `p${i}.dat`), i % 2 === 0 ? randomBytes(1 + (i % 3000)) : `page ${i} `.repeat(i % 50));
  }
  await symlink("db/meta.json", join(dir, "meta-link"));
  await symlink("/nonexistent/target", join(dir, "dangling"));
  await symlink("db", join(dir, "db-link"));
  await mkdir(join(dir, "locked"));
  await writeFile(join(dir, "locked", "inside.txt"), "inside");
  await chmod(join(dir, "locked"), 0o555);
  await mkdir(join(dir, "shared"));
  await chmod(join(dir, "shared"), 0o2775);
  await utimes(join(dir, "db", "meta.json"), new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
  if (isRoot) await chown(join(dir, "db", "secret.key"), 4321, 4322);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<HoistError> {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as HoistError | undefined;
  expect(err, `expected a ${code} error`).toBeDefined();
  expect(err!.code, err!.message).toBe(code);
  return err!;
}

/**
 * data-b: one small file. data-a: empty, or with `big` a 5 MB file and a few small ones (archives
 * of several chunks), or with `rich` the full tree (2000 files, every entry kind).
 */
async function setup(options: { rich?: boolean; big?: boolean } = {}) {
  const base = await makeTempDir("hoist-snap-");
  const dataA = join(base, "data-a");
  const dataB = join(base, "data-b");
  const snapshotsDir = join(base, "snapshots");
  await mkdir(dataA, { mode: 0o750 });
  await chmod(dataA, 0o750);
  if (options.rich === true) await makeRichDataDir(dataA);
  else if (options.big === true) {
    await mkdir(join(dataA, "db", "pages", "7"), { recursive: true });
    await writeFile(join(dataA, "db", "pages", "7", "p7.dat"), randomBytes(3000));
    await writeFile(join(dataA, "big.bin"), randomBytes(5 * 1024 * 1024));
    await writeFile(join(dataA, "notes.txt"), "notes ".repeat(1000));
  }
  await mkdir(join(dataB, "logs"), { recursive: true });
  await writeFile(join(dataB, "logs", "a.log"), "line\n".repeat(100));
  return { base, dataA, dataB, snapshotsDir };
}

describe("snapshot round trip", () => {
  it("create, verify and restore bring two data dirs back byte-identical (extra removed, deleted and changed back)", async () => {
    const { base, dataA, dataB, snapshotsDir } = await setup({ rich: true });
    const before = { a: await hashTree(dataA), b: await hashTree(dataB) };
    const progress: Progress[] = [];

    const info = await createSnapshot({ service: "svc", dataDirs: [dataA, dataB], snapshotsDir, compression: "none", version: "1.2.3", label: "pre-upgrade" }, { onProgress: (p) => progress.push(p) });
    expect(info.id).toMatch(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/);
    expect(info).toMatchObject({ service: "svc", version: "1.2.3", label: "pre-upgrade", compression: "none", dir: join(snapshotsDir, info.id) });
    expect(info.files).toBe(Object.values(before.a).filter((v) => v.startsWith("file:")).length + 1);
    expect(await readdir(snapshotsDir)).toEqual([info.id]);
    expect((await readdir(info.dir)).sort()).toEqual(["data-0.tar", "data-1.tar", "manifest.json", "summary.json"]);

    expect(progress.every((p) => p.step === "snapshot")).toBe(true);
    expect(progress.at(-1)).toMatchObject({ percent: 100, bytes: info.bytes, totalBytes: info.bytes });
    const percents = progress.map((p) => p.percent!);
    expect(percents).toEqual([...percents].sort((x, y) => x - y));

    const manifest = await readSnapshotManifest(snapshotsDir, info.id);
    expect(manifest.formatVersion).toBe(2);
    expect(manifest.dataDirs.map((d) => d.path)).toEqual([dataA, dataB]);
    const entries = new Map(manifest.dataDirs[0]!.entries.map((e) => [e.path, e]));
    expect(entries.get(".")).toMatchObject({ type: "dir", mode: 0o750 });
    expect(entries.get("db/secret.key")).toMatchObject({ type: "file", mode: 0o600, size: 3 });
    expect(entries.get("db/secret.key")!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entries.get("dangling")).toMatchObject({ type: "symlink", target: "/nonexistent/target" });
    expect(entries.get("locked")).toMatchObject({ type: "dir", mode: 0o555 });
    expect(entries.get("big.bin")!.size).toBe(5 * 1024 * 1024);
    expect(entries.get("suid-tool")!.mode).toBe(0o4755);
    expect(before.a["group-writable"]).toMatch(/^file:0666:/);

    await verifySnapshot(snapshotsDir, info.id);

    // The upgrade goes wrong: files added, removed, changed, modes and links altered.
    await writeFile(join(dataA, "extra.txt"), "should disappear");
    await mkdir(join(dataA, "extra-dir", "deep"), { recursive: true });
    await writeFile(join(dataA, "extra-dir", "deep", "x"), "x");
    await rm(join(dataA, "db", "pages", "3"), { recursive: true });
    await writeFile(join(dataA, "db", "meta.json"), JSON.stringify({ schema: 4 }));
    await chmod(join(dataA, "run.sh"), 0o644);
    await rm(join(dataA, "meta-link"));
    await symlink("run.sh", join(dataA, "meta-link"));
    await rm(join(dataA, "empty"), { recursive: true });
    await writeFile(join(dataA, "empty"), "now a file");
    await chmod(dataA, 0o700);
    await rm(dataB, { recursive: true });
    expect(await hashTree(dataA)).not.toEqual(before.a);

    const restoreProgress: Progress[] = [];
    await restoreSnapshot(snapshotsDir, info.id, { onProgress: (p) => restoreProgress.push(p) });

    expect(await hashTree(dataA)).toEqual(before.a);
    expect(await hashTree(dataB)).toEqual(before.b);
    expect((await stat(dataA)).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dataA, "db", "meta.json"))).mtime.toISOString()).toBe("2024-01-02T03:04:05.000Z");
    if (isRoot) expect(await stat(join(dataA, "db", "secret.key"))).toMatchObject({ uid: 4321, gid: 4322 });
    expect(restoreProgress.every((p) => p.step === "restore")).toBe(true);
    expect(restoreProgress.at(-1)!.percent).toBe(100);
    // No temp or old dirs left beside the data dirs.
    expect((await readdir(base)).sort()).toEqual(["data-a", "data-b", "snapshots"]);
  });

  it("gzip: the archive is a valid .tar.gz (GNU tar reads it) and the round trip is exact", async () => {
    const { base, dataA, snapshotsDir } = await setup({ rich: true });
    const before = await hashTree(dataA);
    const info = await createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "gzip" });
    expect(info.compression).toBe("gzip");
    expect(info.dataDirs[0]!.archive).toBe("data-0.tar.gz");
    expect(info.archiveBytes).toBeLessThan(info.bytes);
    await verifySnapshot(snapshotsDir, info.id);

    const viaGnu = join(base, "gnu");
    await mkdir(viaGnu);
    execFileSync("tar", ["-xzf", join(info.dir, "data-0.tar.gz"), "-C", viaGnu]);
    expect(await hashTree(viaGnu)).toEqual(before);

    await rm(join(dataA, "big.bin"));
    await writeFile(join(dataA, "new"), "new");
    await restoreSnapshot(snapshotsDir, info.id);
    expect(await hashTree(dataA)).toEqual(before);
  });

  it("a data dir missing at snapshot time is recorded as missing, and restore removes it again", async () => {
    const { dataB, snapshotsDir, base } = await setup();
    const absent = join(base, "not-yet");
    const info = await createSnapshot({ service: "svc", dataDirs: [dataB, absent], snapshotsDir, compression: "none" });
    const manifest = await readSnapshotManifest(snapshotsDir, info.id);
    expect(manifest.dataDirs[1]).toMatchObject({ path: absent, missing: true, entries: [] });
    expect(info.dataDirs[1]!.missing).toBe(true);
    await verifySnapshot(snapshotsDir, info.id);

    await mkdir(join(absent, "sub"), { recursive: true });
    await writeFile(join(absent, "sub", "created-by-upgrade"), "x");
    await restoreSnapshot(snapshotsDir, info.id);
    await expect(lstat(absent)).rejects.toMatchObject({ code: "ENOENT" });
    expect(Object.keys(await hashTree(dataB))).toEqual(["logs", "logs/a.log"]);
  });

  it("a symlinked data dir is followed: its target is snapshotted and restored, the link stays", async () => {
    const { base, dataB, snapshotsDir } = await setup();
    const link = join(base, "data-link");
    await symlink(dataB, link);
    const before = await hashTree(dataB);
    const info = await createSnapshot({ service: "svc", dataDirs: [link], snapshotsDir, compression: "none" });
    await writeFile(join(dataB, "logs", "a.log"), "changed");
    await restoreSnapshot(snapshotsDir, info.id);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await hashTree(dataB)).toEqual(before);
  });

  it("restore removes leftovers of an interrupted earlier restore", async () => {
    const { base, dataB, snapshotsDir } = await setup();
    const info = await createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" });
    await mkdir(join(base, ".data-b.restore-0123456789ab", "half"), { recursive: true });
    await mkdir(join(base, ".data-b.old-ba9876543210"));
    await restoreSnapshot(snapshotsDir, info.id);
    expect((await readdir(base)).sort()).toEqual(["data-a", "data-b", "snapshots"]);
  });
});

describe("snapshot integrity", () => {
  /** Byte offset of a file's content inside a plain tar (reads headers like tar does). */
  async function contentOffset(archive: string, path: string): Promise<number> {
    const bytes = await readFile(archive);
    for (let at = 0; at + 512 <= bytes.length;) {
      const name = bytes
        .subarray(at, at + 100)
        .toString("utf8")
        .replace(/\0.*$/s, "");
      const size = parseInt(
        bytes
          .subarray(at + 124, at + 136)
          .toString("latin1")
          .replace(/\0.*$/s, "")
          .trim() || "0",
        8,
      );
      if (name === path) return at + 512;
      at += 512 + Math.ceil(size / 512) * 512;
    }
    throw new Error(`${path} not in ${archive}`);
  }

  async function flipByte(file: string, offset: number): Promise<void> {
    const handle = await open(file, "r+");
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, offset);
    one[0] = one[0]! ^ 0xff;
    await handle.write(one, 0, 1, offset);
    await handle.close();
  }

  async function editManifest(snapshotsDir: string, id: string, edit: (manifest: any) => void): Promise<void> {
    const path = join(snapshotsDir, id, "manifest.json");
    const manifest = JSON.parse(await readFile(path, "utf8"));
    edit(manifest);
    await writeFile(path, JSON.stringify(manifest));
  }

  it("a flipped byte in a file inside the archive: verify names the file, restore refuses and leaves the data dir unchanged", async () => {
    const { base, dataA, snapshotsDir } = await setup({ big: true });
    const info = await createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "none" });
    const archive = join(info.dir, "data-0.tar");
    await flipByte(archive, (await contentOffset(archive, "db/pages/7/p7.dat")) + 3);

    const err = await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(err.message).toContain("db/pages/7/p7.dat");

    await writeFile(join(dataA, "after-upgrade"), "state to keep on a refused restore");
    const current = await hashTree(dataA);
    await expectCode(restoreSnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(await hashTree(dataA)).toEqual(current);
    expect((await readdir(base)).sort()).toEqual(["data-a", "data-b", "snapshots"]);
  });

  it("a flipped byte is caught in every file whichever thread checks it (the worker every other file of 4 KiB or more, the main thread the rest), by verify and by restore", async () => {
    const { dataA, snapshotsDir } = await setup();
    // In archive order: small, big (over one 4 MiB chunk), empty, small, big, empty: the main thread checks the small and empty ones and f1, the worker f4.
    await writeFile(join(dataA, "f0"), randomBytes(3000));
    await writeFile(join(dataA, "f1"), randomBytes(5 * 1024 * 1024 + 77));
    await writeFile(join(dataA, "f2"), "");
    await writeFile(join(dataA, "f3"), randomBytes(10));
    await writeFile(join(dataA, "f4"), randomBytes(6 * 1024 * 1024));
    await writeFile(join(dataA, "f5"), ""); // an empty file the main thread checks
    const info = await createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "none" });
    const archive = join(info.dir, "data-0.tar");
    const targets = [
      { path: "f0", at: 0 },
      { path: "f1", at: 0 },
      { path: "f1", at: 5 * 1024 * 1024 + 76 },
      { path: "f3", at: 9 },
      { path: "f4", at: 4 * 1024 * 1024 },
    ];
    for (const [i, { path, at }] of targets.entries()) {
      const offset = (await contentOffset(archive, path)) + at;
      await flipByte(archive, offset);
      const err = await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
      expect(err.message, path).toContain(path);
      if (i < 3) await expectCode(restoreSnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
      await flipByte(archive, offset);
    }
    await verifySnapshot(snapshotsDir, info.id);
  });

  it("a flipped byte in a tar header or in the padding is caught too", async () => {
    const { dataB, snapshotsDir } = await setup();
    const info = await createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" });
    const archive = join(info.dir, "data-0.tar");
    const offset = await contentOffset(archive, "logs/a.log");
    await flipByte(archive, offset - 512 + 1); // inside the header's name field
    await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    await flipByte(archive, offset - 512 + 1);
    await verifySnapshot(snapshotsDir, info.id);
    await flipByte(archive, offset + 500 + 7); // padding after the 500-byte content
    const err = await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(err.message).toContain("padding");
  });

  it("a changed archive hash or file hash in the manifest fails verify and restore", async () => {
    const { dataB, snapshotsDir } = await setup();
    const info = await createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" });
    await editManifest(snapshotsDir, info.id, (m) => (m.dataDirs[0].archiveSha256 = "0".repeat(64)));
    const err = await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(err.message).toContain("data-0.tar");
    await writeFile(join(dataB, "logs", "a.log"), "now");
    await expectCode(restoreSnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(await readFile(join(dataB, "logs", "a.log"), "utf8")).toBe("now");

    const second = await createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" });
    await editManifest(snapshotsDir, second.id, (m) => {
      const entry = m.dataDirs[0].entries.find((e: { path: string }) => e.path === "logs/a.log");
      entry.sha256 = "f".repeat(64);
    });
    const err2 = await expectCode(verifySnapshot(snapshotsDir, second.id), "SNAPSHOT_CORRUPT");
    expect(err2.message).toContain("logs/a.log");
  });

  it("a truncated archive, a missing archive and an entry missing from the manifest are corrupt", async () => {
    const { dataB, snapshotsDir } = await setup();
    const info = await createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" });
    const archive = join(info.dir, "data-0.tar");
    const full = await readFile(archive);
    await writeFile(archive, full.subarray(0, full.length - 1024));
    await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    await editManifest(snapshotsDir, info.id, (m) => (m.dataDirs[0].archiveBytes = full.length - 1024));
    await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    await rm(archive);
    await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    await writeFile(archive, full);
    await editManifest(snapshotsDir, info.id, (m) => {
      m.dataDirs[0].archiveBytes = full.length;
      m.dataDirs[0].entries.pop();
      m.files -= 1;
      m.bytes -= 500;
    });
    const err = await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(err.message).toContain("logs/a.log");
  });

  it("a corrupted gzip archive is refused", async () => {
    const { dataA, snapshotsDir } = await setup({ big: true });
    const info = await createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "gzip" });
    const archive = join(info.dir, "data-0.tar.gz");
    await flipByte(archive, Math.floor(info.archiveBytes / 2));
    await expectCode(verifySnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    const current = await hashTree(dataA);
    await expectCode(restoreSnapshot(snapshotsDir, info.id), "SNAPSHOT_CORRUPT");
    expect(await hashTree(dataA)).toEqual(current);
  });
});

describe("snapshot list and prune", () => {
  it("lists newest first, filters by service, never lists .partial, prunes all but the newest K and the protected", async () => {
    const base = await makeTempDir("hoist-snap-list-");
    const data = join(base, "data");
    const snapshotsDir = join(base, "snapshots");
    await mkdir(data);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await writeFile(join(data, "n"), String(i));
      ids.push((await createSnapshot({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none", label: `s${i}` })).id);
    }
    const other = await createSnapshot({ service: "other", dataDirs: [data], snapshotsDir, compression: "none" });
    await mkdir(join(snapshotsDir, `${ids[3]!.replace(/-....$/, "-ffff")}.partial`));
    await writeFile(join(snapshotsDir, `${ids[3]!.replace(/-....$/, "-ffff")}.partial`, "manifest.json"), "{}");

    const listed = await listSnapshots(snapshotsDir, "svc");
    expect(listed.map((s) => s.id)).toEqual([...ids].reverse());
    expect(listed.map((s) => s.label)).toEqual(["s3", "s2", "s1", "s0"]);
    expect((await listSnapshots(snapshotsDir)).map((s) => s.id)).toEqual([other.id, ...[...ids].reverse()]);
    expect(await listSnapshots(join(base, "nope"))).toEqual([]);
    // Without its summary (or with a wrong one) a snapshot is listed from its manifest.
    await rm(join(snapshotsDir, ids[1]!, "summary.json"));
    await writeFile(join(snapshotsDir, ids[2]!, "summary.json"), JSON.stringify({ ...listed[1], id: ids[0] }));
    expect(await listSnapshots(snapshotsDir, "svc")).toEqual(listed);

    const removed = await pruneSnapshots(snapshotsDir, 1, [ids[0]!], { service: "svc" });
    expect(removed).toEqual([ids[2], ids[1]]);
    expect((await listSnapshots(snapshotsDir, "svc")).map((s) => s.id)).toEqual([ids[3], ids[0]]);
    expect((await readdir(snapshotsDir)).sort()).toEqual([ids[0], ids[3], other.id].sort());
    await expectCode(readSnapshotManifest(snapshotsDir, ids[1]!), "NOT_FOUND");
    await expectCode(readSnapshotManifest(snapshotsDir, "../etc"), "INVALID_ARGUMENT");
    await expectCode(pruneSnapshots(snapshotsDir, -1), "INVALID_ARGUMENT");

    // The kept snapshot still restores.
    await restoreSnapshot(snapshotsDir, ids[0]!);
    expect(await readFile(join(data, "n"), "utf8")).toBe("0");
  });
});

describe("snapshot refusals and cancellation", () => {
  it("refuses a data dir holding a FIFO or a socket, naming them, and leaves nothing behind", async () => {
    const { dataB, snapshotsDir } = await setup();
    execFileSync("mkfifo", [join(dataB, "logs", "pipe")]);
    const err = await expectCode(createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" }), "WRONG_STATE");
    expect(err.message).toContain("logs/pipe");
    await rm(join(dataB, "logs", "pipe"));

    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dataB, "app.sock"), resolve));
    try {
      const err2 = await expectCode(createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir, compression: "none" }), "WRONG_STATE");
      expect(err2.message).toContain("app.sock");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(await readdir(snapshotsDir)).toEqual([]);
  });

  it("refuses overlapping data dirs and a snapshots dir inside a data dir", async () => {
    const { dataA, dataB, snapshotsDir } = await setup();
    await expectCode(createSnapshot({ service: "svc", dataDirs: [dataA, join(dataA, "db")], snapshotsDir, compression: "none" }), "INVALID_ARGUMENT");
    await expectCode(createSnapshot({ service: "svc", dataDirs: [dataB], snapshotsDir: join(dataB, "snaps"), compression: "none" }), "INVALID_ARGUMENT");
    await expectCode(createSnapshot({ service: "svc", dataDirs: ["relative/dir"], snapshotsDir, compression: "none" }), "INVALID_ARGUMENT");
  });

  it("an abort while creating leaves no snapshot and no .partial; an aborted signal says CANCELLED or TIMEOUT", async () => {
    const { dataA, snapshotsDir } = await setup({ big: true });
    await expectCode(createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "none" }, { signal: AbortSignal.abort() }), "CANCELLED");

    const controller = new AbortController();
    await expectCode(createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "gzip" }, { signal: controller.signal, onProgress: (p) => (p.bytes ?? 0) > 0 && controller.abort() }), "CANCELLED");
    expect(await readdir(snapshotsDir)).toEqual([]);

    const timeout = new AbortController();
    timeout.abort(new DOMException("budget spent", "TimeoutError"));
    await expectCode(verifySnapshot(snapshotsDir, "20260101T000000.000Z-abcd", { signal: timeout.signal }), "TIMEOUT");
  });

  it("an abort while restoring leaves the data dir as it was and no temp dir", async () => {
    const { base, dataA, snapshotsDir } = await setup({ big: true });
    const info = await createSnapshot({ service: "svc", dataDirs: [dataA], snapshotsDir, compression: "none" });
    await writeFile(join(dataA, "after"), "x");
    const current = await hashTree(dataA);
    const controller = new AbortController();
    await expectCode(restoreSnapshot(snapshotsDir, info.id, { signal: controller.signal, onProgress: (p) => (p.bytes ?? 0) > 0 && controller.abort() }), "CANCELLED");
    expect(await hashTree(dataA)).toEqual(current);
    expect((await readdir(base)).sort()).toEqual(["data-a", "data-b", "snapshots"]);
    // The snapshot is still good after the aborted restore.
    await verifySnapshot(snapshotsDir, info.id);
  });
});
