/**
 * A tiny raw tar writer for tests. node-tar sanitizes paths when it creates archives, so the
 * malicious archives (`..`, absolute paths, devices, setuid, escaping links) are written by hand:
 * ustar headers, a pax header when a path does not fit, and the end-of-archive marker.
 * `makeTarball` builds the well-formed archives with node-tar itself.
 */

import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { create } from "tar";

export type RawEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface RawEntry {
  path: string;
  /** A named type or a raw one-character typeflag (e.g. "S" for a GNU sparse file). */
  type?: RawEntryType | (string & {});
  body?: string | Buffer;
  linkpath?: string;
  mode?: number;
  /** Size written into the header; defaults to the body length. */
  size?: number;
  mtime?: Date;
  /** Overwrite the header checksum with garbage. */
  badChecksum?: boolean;
}

export interface RawTarOptions {
  /** Write the two zero blocks that end an archive (default true). */
  endMarker?: boolean;
}

const TYPEFLAGS: Record<RawEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

/** Builds an uncompressed tar archive from raw entries, exactly as given. */
export function writeRawTar(entries: RawEntry[], options: RawTarOptions = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    const type = entry.type ?? "file";
    const typeflag = type in TYPEFLAGS ? TYPEFLAGS[type as RawEntryType] : type;
    const pax: Record<string, string> = {};
    if (Buffer.byteLength(entry.path) > 100) pax.path = entry.path;
    if (entry.linkpath !== undefined && Buffer.byteLength(entry.linkpath) > 100) pax.linkpath = entry.linkpath;
    if (Object.keys(pax).length > 0) {
      const paxBody = Buffer.from(
        Object.entries(pax)
          .map(([key, value]) => paxRecord(key, value))
          .join(""),
      );
      blocks.push(header({ path: "PaxHeader", typeflag: "x", size: paxBody.length, mode: 0o644 }), pad(paxBody));
    }
    blocks.push(
      header({
        path: entry.path,
        typeflag,
        size: entry.size ?? body.length,
        mode: entry.mode ?? (type === "dir" ? 0o755 : 0o644),
        linkpath: entry.linkpath,
        mtime: entry.mtime,
        badChecksum: entry.badChecksum,
      }),
    );
    if (body.length > 0) blocks.push(pad(body));
  }
  if (options.endMarker !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function header(fields: { path: string; typeflag: string; size: number; mode: number; linkpath?: string; mtime?: Date; badChecksum?: boolean }): Buffer {
  const block = Buffer.alloc(512);
  writeString(block, 0, 100, fields.path);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, 1000);
  writeOctal(block, 116, 8, 1000);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.floor((fields.mtime ?? new Date("2024-01-01T00:00:00Z")).getTime() / 1000));
  block.fill(0x20, 148, 156);
  block.write(fields.typeflag, 156, 1, "latin1");
  writeString(block, 157, 100, fields.linkpath ?? "");
  block.write("ustar\u000000", 257, 8, "latin1");
  writeString(block, 265, 32, "hoist");
  writeString(block, 297, 32, "hoist");
  let sum = 0;
  for (const byte of block) sum += byte;
  if (fields.badChecksum) sum += 1;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return block;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  Buffer.from(value).copy(block, offset, 0, length);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "latin1");
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function paxRecord(key: string, value: string): string {
  const text = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(text) + 1;
  while (String(length).length + Buffer.byteLength(text) !== length) length += 1;
  return `${length}${text}`;
}

/** What `makeTarball` writes: a file (content, optional mode), a symlink, or an empty directory. */
export type TreeEntry = string | { content?: string | Buffer; mode?: number; symlink?: string; dir?: true };

export interface MadeTarball {
  path: string;
  sha256: string;
  size: number;
}

/**
 * Builds a real archive with node-tar from a tree described in memory (the tree is written to
 * `PATH.src/` first). Gzipped unless `gzip: false`.
 */
export async function makeTarball(path: string, tree: Record<string, TreeEntry>, options: { gzip?: boolean } = {}): Promise<MadeTarball> {
  const source = `${path}.src`;
  await mkdir(source, { recursive: true });
  for (const [rel, entry] of Object.entries(tree)) {
    const target = join(source, rel);
    await mkdir(dirname(target), { recursive: true });
    if (typeof entry === "string") await writeFile(target, entry);
    else if (entry.dir) await mkdir(target, { recursive: true, mode: entry.mode });
    else if (entry.symlink !== undefined) await symlink(entry.symlink, target);
    else {
      await writeFile(target, entry.content ?? "");
      if (entry.mode !== undefined) await chmod(target, entry.mode);
    }
  }
  await create({ gzip: options.gzip ?? true, file: path, cwd: source }, await readdir(source));
  return { path, ...(await describeFile(path)) };
}

/** sha256 (hex) and size of a file. */
export async function describeFile(path: string): Promise<{ sha256: string; size: number }> {
  const data = await readFile(path);
  return { sha256: createHash("sha256").update(data).digest("hex"), size: data.length };
}
