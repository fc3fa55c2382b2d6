import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { HoistError } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { BLOCK, encodeHeader, headerSize, paddedSize, type TarHeader } from "./tar-format.ts";
import { cancelled, type WalkItem } from "./walk.ts";

/** Receives full chunks in order; resolves when another chunk may be produced (credit). */
export type ChunkSink = (chunk: ArrayBuffer, length: number, bytesDone: number) => Promise<void>;

const ONE_BYTE = Buffer.alloc(1);

/**
 * Writes a data dir as a tar stream in fixed-size chunks and returns the manifest entries.
 * Each file is read once, straight into the chunk after its header; the same bytes are hashed
 * for the manifest, so the archive needs no second pass. Chunks are fresh zeroed buffers, so
 * block padding is already zero. Runs in the snapshot worker (synchronous fs calls).
 *
 * Throws WRONG_STATE when a file changes size while it is read (the service must be stopped).
 */
export async function packDataDir(items: WalkItem[], chunkBytes: number, sink: ChunkSink, isAborted: () => boolean): Promise<SnapshotEntry[]> {
  const entries: SnapshotEntry[] = [];
  let chunk = new ArrayBuffer(chunkBytes);
  let view = new Uint8Array(chunk);
  let pos = 0;
  let bytesDone = 0;

  const flush = async () => {
    if (pos === 0) return;
    const full = chunk;
    const length = pos;
    chunk = new ArrayBuffer(chunkBytes);
    view = new Uint8Array(chunk);
    pos = 0;
    await sink(full, length, bytesDone);
  };
  const ensure = async (bytes: number) => {
    if (pos + bytes > chunkBytes) await flush();
  };

  for (const item of items) {
    if (isAborted()) throw cancelled();
    if (item.type !== "file") {
      const header: TarHeader = { path: item.path, type: item.type, mode: item.mode, uid: item.uid, gid: item.gid, size: 0, mtime: item.mtime, target: item.target };
      await ensure(headerSize(header));
      pos += encodeHeader(header, view, pos);
      entries.push(item.type === "symlink" ? { path: item.path, type: "symlink", size: 0, mode: item.mode, target: item.target! } : { path: item.path, type: "dir", size: 0, mode: item.mode });
      continue;
    }

    const fd = openSync(item.abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.size !== item.size) throw changed(item);
      const size = stat.size;
      const header: TarHeader = { path: item.path, type: "file", mode: item.mode, uid: item.uid, gid: item.gid, size, mtime: item.mtime };
      const hsize = headerSize(header);
      const hash = createHash("sha256");
      const padded = paddedSize(size);
      if (hsize + padded <= chunkBytes) {
        // Small file: header and content land in one chunk, read with one call.
        await ensure(hsize + padded);
        pos += encodeHeader(header, view, pos);
        readFully(fd, view, pos, size, item);
        if (!process.env.NOHASH) hash.update(view.subarray(pos, pos + size));
        pos += padded;
        bytesDone += size;
      } else {
        await ensure(hsize);
        pos += encodeHeader(header, view, pos);
        let left = size;
        while (left > 0) {
          if (pos === chunkBytes) await flush();
          const piece = Math.min(left, chunkBytes - pos);
          readFully(fd, view, pos, piece, item);
          hash.update(view.subarray(pos, pos + piece));
          pos += piece;
          left -= piece;
          bytesDone += piece;
          if (isAborted()) throw cancelled();
        }
        const pad = padded - size;
        if (pad > 0) {
          await ensure(pad);
          pos += pad;
        }
      }
      if (readSync(fd, ONE_BYTE, 0, 1, null) !== 0) throw changed(item);
      entries.push({ path: item.path, type: "file", size, mode: item.mode, sha256: hash.digest("hex") });
    } finally {
      closeSync(fd);
    }
  }
  // End of archive: two zero blocks (the chunk is zero-filled).
  await ensure(BLOCK * 2);
  pos += BLOCK * 2;
  await flush();
  return entries;
}

function readFully(fd: number, view: Uint8Array, offset: number, length: number, item: WalkItem): void {
  let done = 0;
  while (done < length) {
    const read = readSync(fd, view, offset + done, length - done, null);
    if (read === 0) throw changed(item);
    done += read;
  }
}

function changed(item: WalkItem): HoistError {
  return new HoistError("WRONG_STATE", `${item.path} changed while the snapshot was taken; stop the service (and anything else writing to ${item.abs}) and retry`, {
    details: { path: item.path },
  });
}
