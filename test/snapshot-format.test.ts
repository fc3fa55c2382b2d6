import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { link, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSnapshot, restoreSnapshot, verifySnapshot, type SnapshotEntry } from "../agent/snapshot/index.ts";
import { isSafeRelativePath } from "../agent/snapshot/paths.ts";
import { BLOCK, decodeBlock, encodeHeader, END_OF_ARCHIVE, headerSize, paddedSize, TarFormatError, type TarHeader } from "../agent/snapshot/tar-format.ts";
import { splitByCompressibility } from "../agent/snapshot/write-archive.ts";
import type { HoistError } from "../shared/errors/index.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (err: unknown) => (err as HoistError).code,
  );
}

/** Writes a tar by hand (for archives Hoist itself would never write). */
function buildTar(items: { header: TarHeader; content?: Buffer; typeflag?: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { header, content, typeflag } of items) {
    const block = Buffer.alloc(headerSize(header));
    encodeHeader(header, block, 0);
    if (typeflag !== undefined) {
      const at = block.length - BLOCK;
      block[at + 156] = typeflag.charCodeAt(0);
      let sum = 8 * 0x20;
      for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[at + i]!;
      block.write(`${sum.toString(8).padStart(6, "0")}\0 `, at + 148, "latin1");
    }
    parts.push(block);
    if (content !== undefined) parts.push(content, Buffer.alloc(paddedSize(content.length) - content.length));
  }
  parts.push(Buffer.from(END_OF_ARCHIVE));
  return Buffer.concat(parts);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Writes a complete snapshot dir by hand around `archive` and `entries` (manifest hashes made to match). */
async function writeHandmadeSnapshot(snapshotsDir: string, id: string, dataDir: string, archive: Buffer, entries: SnapshotEntry[]): Promise<void> {
  const dir = join(snapshotsDir, id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "data-0.tar"), archive);
  const files = entries.filter((e) => e.type === "file");
  await writeFile(
    join(dir, "manifest.json"),
    JSON.stringify({
      formatVersion: 1,
      id,
      service: "svc",
      createdAt: new Date().toISOString(),
      compression: "none",
      dataDirs: [{ path: dataDir, archive: "data-0.tar", archiveSha256: sha256(archive), archiveBytes: archive.length, entries }],
      files: files.length,
      bytes: files.reduce((sum, e) => sum + e.size, 0),
    }),
  );
}

const base = { uid: 0, gid: 0, mtime: 1_700_000_000 };

describe("snapshot archive format", () => {
  it("long paths, long symlink targets and non-ASCII names round-trip (PAX), and GNU tar reads the same tree", async () => {
    const root = await makeTempDir("hoist-snapfmt-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    const deep = join(data, "a".repeat(60), "b".repeat(60), "c".repeat(60));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${"f".repeat(120)}.txt`), "deep file");
    await mkdir(join(data, "données"));
    await writeFile(join(data, "données", "ñandú 📦.txt"), "unicode");
    await symlink(`../${"t".repeat(150)}/target`, join(data, "long-link"));
    await writeFile(join(data, "original"), "same inode");
    await link(join(data, "original"), join(data, "hardlink"));
    const before = await hashTree(data);

    const info = await createSnapshot({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
    await verifySnapshot(snapshotsDir, info.id);

    const viaGnu = join(root, "gnu");
    await mkdir(viaGnu);
    execFileSync("tar", ["-xf", join(info.dir, "data-0.tar"), "-C", viaGnu]);
    expect(await hashTree(viaGnu)).toEqual(before);

    await writeFile(join(data, "données", "ñandú 📦.txt"), "changed");
    await restoreSnapshot(snapshotsDir, info.id);
    expect(await hashTree(data)).toEqual(before);
    // Hard links are kept: one inode again after the restore (and in GNU tar's extraction).
    expect((await stat(join(data, "hardlink"))).ino).toBe((await stat(join(data, "original"))).ino);
    expect((await stat(join(viaGnu, "hardlink"))).ino).toBe((await stat(join(viaGnu, "original"))).ino);
  });

  it("restore refuses an archive whose entry would be written through a symlink out of the data dir", async () => {
    const root = await makeTempDir("hoist-snapfmt-");
    const data = join(root, "data");
    const outside = join(root, "outside");
    const snapshotsDir = join(root, "snapshots");
    await mkdir(data);
    await writeFile(join(data, "keep"), "keep");
    await mkdir(outside);
    const payload = Buffer.from("escaped");
    const archive = buildTar([
      { header: { ...base, path: ".", type: "dir", mode: 0o755, size: 0 } },
      { header: { ...base, path: "l", type: "symlink", mode: 0o777, size: 0, target: outside } },
      { header: { ...base, path: "l/x", type: "file", mode: 0o644, size: payload.length }, content: payload },
    ]);
    const entries: SnapshotEntry[] = [
      { path: ".", type: "dir", size: 0, mode: 0o755 },
      { path: "l", type: "symlink", size: 0, mode: 0o777, target: outside },
      { path: "l/x", type: "file", size: payload.length, mode: 0o644, sha256: sha256(payload) },
    ];
    const id = "20260101T000000.000Z-0001";
    await writeHandmadeSnapshot(snapshotsDir, id, data, archive, entries);

    expect(await codeOf(restoreSnapshot(snapshotsDir, id))).toBe("SNAPSHOT_CORRUPT");
    expect(await readdir(outside)).toEqual([]);
    expect(await hashTree(data)).toEqual({ keep: expect.stringMatching(/^file:/) });
    expect((await readdir(root)).sort()).toEqual(["data", "outside", "snapshots"]);
  });

  it("a manifest with a path escaping the data dir, or an archive with a hard link or device entry, is corrupt", async () => {
    const root = await makeTempDir("hoist-snapfmt-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    await mkdir(data);
    const payload = Buffer.from("x");

    const escaping = buildTar([{ header: { ...base, path: ".", type: "dir", mode: 0o755, size: 0 } }, { header: { ...base, path: "../evil", type: "file", mode: 0o644, size: 1 }, content: payload }]);
    await writeHandmadeSnapshot(snapshotsDir, "20260101T000000.000Z-0002", data, escaping, [
      { path: ".", type: "dir", size: 0, mode: 0o755 },
      { path: "../evil", type: "file", size: 1, mode: 0o644, sha256: sha256(payload) },
    ]);
    expect(await codeOf(verifySnapshot(snapshotsDir, "20260101T000000.000Z-0002"))).toBe("SNAPSHOT_CORRUPT");
    expect(await codeOf(restoreSnapshot(snapshotsDir, "20260101T000000.000Z-0002"))).toBe("SNAPSHOT_CORRUPT");
    await expect(lstat(join(root, "evil"))).rejects.toMatchObject({ code: "ENOENT" });

    for (const [index, typeflag] of ["1", "3", "6"].entries()) {
      const id = `20260101T000000.000Z-001${index}`;
      const archive = buildTar([{ header: { ...base, path: ".", type: "dir", mode: 0o755, size: 0 } }, { header: { ...base, path: "odd", type: "file", mode: 0o644, size: 0 }, typeflag }]);
      await writeHandmadeSnapshot(snapshotsDir, id, data, archive, [
        { path: ".", type: "dir", size: 0, mode: 0o755 },
        { path: "odd", type: "file", size: 0, mode: 0o644, sha256: sha256(Buffer.alloc(0)) },
      ]);
      expect(await codeOf(verifySnapshot(snapshotsDir, id)), `typeflag ${typeflag}`).toBe("SNAPSHOT_CORRUPT");
    }
  });

  it("a hand-made archive that matches its manifest restores exactly (the format is plain ustar)", async () => {
    const root = await makeTempDir("hoist-snapfmt-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    const content = Buffer.from("hello\n");
    const archive = buildTar([
      { header: { ...base, path: ".", type: "dir", mode: 0o700, size: 0 } },
      { header: { ...base, path: "sub", type: "dir", mode: 0o750, size: 0 } },
      { header: { ...base, path: "sub/hello.txt", type: "file", mode: 0o640, size: content.length }, content },
    ]);
    const id = "20260101T000000.000Z-0003";
    await writeHandmadeSnapshot(snapshotsDir, id, data, archive, [
      { path: ".", type: "dir", size: 0, mode: 0o700 },
      { path: "sub", type: "dir", size: 0, mode: 0o750 },
      { path: "sub/hello.txt", type: "file", size: content.length, mode: 0o640, sha256: sha256(content) },
    ]);
    await restoreSnapshot(snapshotsDir, id);
    expect(await hashTree(data)).toEqual({ sub: "dir:0750", "sub/hello.txt": `file:0640:${sha256(content)}` });
    expect(await readFile(join(data, "sub", "hello.txt"), "utf8")).toBe("hello\n");
  });
});

describe("tar headers and paths, decoded byte by byte", () => {
  const header: TarHeader = { path: "db/pages/p1.dat", type: "file", mode: 0o640, uid: 1000, gid: 1001, size: 123_456, mtime: 1_700_000_000 };

  it("a flipped byte anywhere in a header fails its checksum, in a block at any alignment", () => {
    for (const shift of [0, 1, 2, 3]) {
      const buffer = new Uint8Array(BLOCK + 4);
      encodeHeader(header, buffer, shift);
      const block = buffer.subarray(shift, shift + BLOCK);
      expect(decodeBlock(block)).toEqual({ kind: "entry", header: { ...header, target: undefined } });
      for (let i = 0; i < BLOCK; i++) {
        if (i >= 148 && i < 156) continue; // the checksum field itself
        block[i] = block[i]! ^ 0x5a;
        expect(() => decodeBlock(block), `byte ${i}, shift ${shift}`).toThrow(TarFormatError);
        block[i] = block[i]! ^ 0x5a;
      }
    }
  });

  it("octal fields as other tars write them (space-padded, space or NUL ended) are read; a non-octal digit is refused", () => {
    const withField = (at: number, text: string) => {
      const block = new Uint8Array(BLOCK);
      encodeHeader(header, block, 0);
      block.fill(0, at, at + 12);
      for (let i = 0; i < text.length; i++) block[at + i] = text.charCodeAt(i);
      block.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += block[i]!;
      const checksum = `${sum.toString(8).padStart(6, "0")}\0 `;
      for (let i = 0; i < 8; i++) block[148 + i] = checksum.charCodeAt(i);
      return block;
    };
    const sizeOf = (block: Uint8Array) => {
      const decoded = decodeBlock(block);
      return decoded.kind === "entry" ? decoded.header.size : -1;
    };
    expect(sizeOf(withField(124, "  361100 \0"))).toBe(123_456);
    expect(sizeOf(withField(124, "00000361100 "))).toBe(123_456);
    expect(sizeOf(withField(124, ""))).toBe(0);
    expect(() => decodeBlock(withField(124, "0000036118 "))).toThrow("bad size field");
  });

  it.each([
    [".", true],
    ["a", true],
    ["a/b/c", true],
    [".hidden/..x/x..", true],
    ["", false],
    ["/a", false],
    ["a//b", false],
    ["a/", false],
    ["./a", false],
    ["a/.", false],
    ["a/../b", false],
    ["..", false],
    ["a\0b", false],
  ])("isSafeRelativePath(%j) is %s", (path, safe) => {
    expect(isSafeRelativePath(path)).toBe(safe);
  });
});

describe("gzip member planning", () => {
  it("stores random stretches and deflates text, in 256 KiB pieces merged into runs", () => {
    const text = Buffer.from("the quick brown fox jumps over the lazy dog; key=value index=42\n".repeat(20_000)).subarray(0, 1024 * 1024);
    const random = randomBytes(1024 * 1024);
    expect(splitByCompressibility(random)).toEqual([{ start: 0, end: random.length, store: true }]);
    expect(splitByCompressibility(text)).toEqual([{ start: 0, end: text.length, store: false }]);
    const mixed = Buffer.concat([text, random, text.subarray(0, 100_000)]);
    expect(splitByCompressibility(mixed)).toEqual([
      { start: 0, end: 1024 * 1024, store: false },
      { start: 1024 * 1024, end: 2 * 1024 * 1024, store: true },
      { start: 2 * 1024 * 1024, end: mixed.length, store: false },
    ]);
  });
});

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("mount", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("snapshot of a data dir that is a mount point", () => {
  it.skipIf(!canMount())("restore swaps the contents in place (a mount point cannot be renamed)", async () => {
    const root = await makeTempDir("hoist-snapmnt-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    await mkdir(data);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0751", "tmpfs", data], { stdio: "pipe" });
    } catch {
      return; // mounting not permitted here (no CAP_SYS_ADMIN)
    }
    try {
      await mkdir(join(data, "db"));
      await writeFile(join(data, "db", "rows"), "1,2,3");
      await symlink("db/rows", join(data, "rows-link"));
      const before = await hashTree(data);
      const info = await createSnapshot({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
      await writeFile(join(data, "db", "rows"), "changed");
      await writeFile(join(data, "extra"), "extra");
      await restoreSnapshot(snapshotsDir, info.id);
      expect(await hashTree(data)).toEqual(before);
      expect((await stat(data)).mode & 0o7777).toBe(0o751);
      expect(execFileSync("mountpoint", ["-q", data], { stdio: "pipe" }).length).toBe(0);
    } finally {
      execFileSync("umount", [data]);
    }
  });
});
