import { createHash, type Hash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { HoistError } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { BLOCK, encodeHeader, headerSize, paddedSize, type TarHeader } from "./tar-format.ts";
import { cancelled, type WalkItem } from "./walk.ts";

/** Where packed chunks go: a free slot to fill, and the hand-over of a filled one. */
export interface ChunkSink {
  acquire(): Promise<number>;
  /** Hands over a filled slot; `segments` as in FromWorker "chunk". */
  deliver(slot: number, length: number, segments: number[], bytesDone: number): void;
  /** True when the consumer is behind (few free slots): hash the next file here instead. */
  consumerBusy(): boolean;
}

const ONE_BYTE = Buffer.alloc(1);

/**
 * Writes a data dir as a tar stream into shared chunk slots and returns the manifest entries.
 * Each file is read once, straight into the chunk after its header. Its sha256 is computed by the
 * consumer (from the segments it is told about) or, when the consumer is behind, here: the two
 * threads share the hashing by load. Runs in the snapshot worker (synchronous fs).
 *
 * Throws WRONG_STATE when a file changes size while it is read (the service must be stopped).
 */
export async function packDataDir(items: WalkItem[], slots: Uint8Array[], sink: ChunkSink, isAborted: () => boolean): Promise<SnapshotEntry[]> {
  const entries: SnapshotEntry[] = [];
  const capacity = slots[0]!.length;
  let slot = await sink.acquire();
  let view = slots[slot]!;
  let pos = 0;
  let segments: number[] = [];
  let bytesDone = 0;

  const flush = async (more = true) => {
    sink.deliver(slot, pos, segments, bytesDone);
    segments = [];
    pos = 0;
    if (!more) return;
    slot = await sink.acquire();
    view = slots[slot]!;
  };
  const ensure = async (bytes: number) => {
    if (pos + bytes > capacity) await flush();
  };
  const writeHeader = (header: TarHeader, size: number) => {
    view.fill(0, pos, pos + size);
    pos += encodeHeader(header, view, pos);
  };

  for (const item of items) {
    if (isAborted()) throw cancelled();
    if (item.type !== "file") {
      const header: TarHeader = { path: item.path, type: item.type, mode: item.mode, uid: item.uid, gid: item.gid, size: 0, mtime: item.mtime, target: item.target };
      const hsize = headerSize(header);
      await ensure(hsize);
      writeHeader(header, hsize);
      entries.push(item.type === "symlink" ? { path: item.path, type: "symlink", size: 0, mode: item.mode, target: item.target! } : { path: item.path, type: "dir", size: 0, mode: item.mode });
      continue;
    }

    const index = entries.length;
    const fd = openSync(item.abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.size !== item.size) throw changed(item);
      const size = stat.size;
      const header: TarHeader = { path: item.path, type: "file", mode: item.mode, uid: item.uid, gid: item.gid, size, mtime: item.mtime };
      const hsize = headerSize(header);
      const padded = paddedSize(size);
      const hash: Hash | undefined = sink.consumerBusy() ? createHash("sha256") : undefined;
      if (hsize + padded <= capacity) {
        // Header and content in one chunk, the content read with one call.
        await ensure(hsize + padded);
        writeHeader(header, hsize);
        readFully(fd, view, pos, size, item);
        view.fill(0, pos + size, pos + padded);
        if (hash === undefined) segments.push(index, pos, pos + size, 1);
        else hash.update(view.subarray(pos, pos + size));
        pos += padded;
        bytesDone += size;
      } else {
        await ensure(hsize);
        writeHeader(header, hsize);
        let left = size;
        while (left > 0) {
          if (pos === capacity) await flush();
          const piece = Math.min(left, capacity - pos);
          readFully(fd, view, pos, piece, item);
          left -= piece;
          if (hash === undefined) segments.push(index, pos, pos + piece, left === 0 ? 1 : 0);
          else hash.update(view.subarray(pos, pos + piece));
          pos += piece;
          bytesDone += piece;
          if (isAborted()) throw cancelled();
        }
        const pad = padded - size;
        if (pad > 0) {
          await ensure(pad);
          view.fill(0, pos, pos + pad);
          pos += pad;
        }
      }
      if (readSync(fd, ONE_BYTE, 0, 1, null) !== 0) throw changed(item);
      entries.push(hash === undefined ? { path: item.path, type: "file", size, mode: item.mode } : { path: item.path, type: "file", size, mode: item.mode, sha256: hash.digest("hex") });
    } finally {
      closeSync(fd);
    }
  }
  // End of archive: two zero blocks.
  await ensure(BLOCK * 2);
  view.fill(0, pos, pos + BLOCK * 2);
  pos += BLOCK * 2;
  await flush(false);
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
