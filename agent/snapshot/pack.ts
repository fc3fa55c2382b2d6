import { createHash, hash, type Hash } from "node:crypto";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { HoistError } from "../../shared/errors/index.ts";
import { WireEntriesBuilder, type WireEntries } from "./wire-entries.ts";
import { BLOCK, encodeHeader, headerSize, paddedSize, type TarHeader } from "./tar-format.ts";
import { cancelled, inodeKey, type WalkItem } from "./walk.ts";

/** Where packed chunks go: a free slot to fill, and the hand-over of a filled one. */
export interface ChunkSink {
  acquire(): Promise<number>;
  /** Hands over a filled slot; `segments` as in FromWorker "chunk". */
  deliver(slot: number, length: number, segments: number[], bytesDone: number): void;
  /** True when the consumer is behind (few free slots): hash the next file here instead. */
  consumerBusy(): boolean;
}

export interface PackOptions {
  /** The service may be running (first phase): a file changing while read is marked dirty, not refused. */
  tolerant?: boolean;
  /** Archive offset of the first byte written (appending to an archive). */
  startOffset?: number;
}

/** Where each entry sits in the archive: `offsets[i]` its first header byte, `lengths[i]` header(s) + padded content. */
export interface PackLayout {
  offsets: ArrayLike<number>;
  lengths: ArrayLike<number>;
  /** Archive offset of the end-of-archive marker. */
  end: number;
  /** Entry indexes whose file was seen changing while read (tolerant mode only). */
  dirty: number[];
}

const ONE_BYTE = Buffer.alloc(1);
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;
/** A file that vanished, or became a symlink or dir, after it was listed. */
const VANISHED = new Set(["ENOENT", "ELOOP", "EISDIR"]);

/**
 * Writes a data dir as a tar stream into shared chunk slots and returns the manifest entries and
 * where each one sits. Each file is read once, straight into the chunk after its header; a small
 * file costs open, one read (asking one byte more than its size proves the end) and close. Its
 * sha256 is computed by the consumer (from the segments it is told about) or, when the consumer is
 * behind, here: the two threads share the hashing by load. A file with several links is stored
 * once; its other paths become hardlink entries naming the first. Runs in the snapshot worker
 * (synchronous fs).
 *
 * Throws WRONG_STATE when a file changes size while it is read (the service must be stopped),
 * unless `tolerant`: then the entry keeps its listed size (zero-filled or cut) and is reported dirty.
 */
export async function packDataDir(root: string, items: WalkItem[], slots: Uint8Array[], sink: ChunkSink, isAborted: () => boolean, options: PackOptions = {}): Promise<{ entries: WireEntries; layout: PackLayout }> {
  const entries = new WireEntriesBuilder();
  const offsets: number[] = [];
  const lengths: number[] = [];
  const dirty: number[] = [];
  const tolerant = options.tolerant === true;
  const capacity = slots[0]!.length;
  const linked = new Map<string, string>();
  let slot = await sink.acquire();
  let view = slots[slot]!;
  let pos = 0;
  let flushed = options.startOffset ?? 0;
  let segments: number[] = [];
  let bytesDone = 0;

  const flush = async (more = true) => {
    sink.deliver(slot, pos, segments, bytesDone);
    segments = [];
    flushed += pos;
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
  const place = async (header: TarHeader) => {
    const hsize = headerSize(header);
    await ensure(hsize);
    offsets.push(flushed + pos);
    lengths.push(hsize + paddedSize(header.size));
    writeHeader(header, hsize);
  };

  // One header object for every entry (encodeHeader and headerSize keep nothing): no per-entry allocation for it.
  const header: TarHeader = { path: "", type: "file", mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, target: undefined };
  for (const item of items) {
    if (isAborted()) throw cancelled();
    header.path = item.path;
    header.mode = item.mode;
    header.uid = item.uid;
    header.gid = item.gid;
    header.mtime = item.mtime;
    const firstLink = item.type === "file" && item.nlink > 1 ? linked.get(inodeKey(item)) : undefined;
    if (item.type !== "file" || firstLink !== undefined) {
      const target = firstLink ?? item.target;
      const type = firstLink !== undefined ? "hardlink" : item.type;
      header.type = type;
      header.size = 0;
      header.target = target;
      await place(header);
      entries.add(item.path, type, 0, item.mode, type === "dir" ? undefined : target!);
      continue;
    }
    if (item.nlink > 1) linked.set(inodeKey(item), item.path);

    const index = entries.length;
    const size = item.size;
    const padded = paddedSize(size);
    const hashHere = sink.consumerBusy();
    header.type = "file";
    header.size = size;
    header.target = undefined;
    let sha256: Uint8Array | undefined;
    // In tolerant mode a file that vanished, or turned into a dir or symlink, while listed is read as zeros and marked dirty.
    const fd = openToRead(item.path === "." ? root : `${root}/${item.path}`, tolerant, item, root);
    let clean = fd >= 0;
    try {
      const hsize = headerSize(header);
      if (hsize + padded <= capacity) {
        // Header and content in one chunk, the content read with one call.
        await ensure(hsize + padded);
        offsets.push(flushed + pos);
        lengths.push(hsize + padded);
        writeHeader(header, hsize);
        if (clean) {
          try {
            clean = readWhole(fd, view, pos, size, capacity - pos);
          } catch (err) {
            clean = readFailed(err, tolerant, item, root);
          }
        }
        if (!clean) view.fill(0, pos, pos + size);
        view.fill(0, pos + size, pos + padded);
        if (!hashHere) segments.push(index, pos, pos + size, 1);
        else sha256 = hash("sha256", view.subarray(pos, pos + size), "buffer");
        pos += padded;
        bytesDone += size;
      } else {
        await place(header);
        const running: Hash | undefined = hashHere ? createHash("sha256") : undefined;
        let left = size;
        while (left > 0) {
          if (pos === capacity) await flush();
          const piece = Math.min(left, capacity - pos);
          if (clean) {
            try {
              clean = readFully(fd, view, pos, piece);
            } catch (err) {
              clean = readFailed(err, tolerant, item, root);
            }
          }
          if (!clean) view.fill(0, pos, pos + piece);
          left -= piece;
          if (running === undefined) segments.push(index, pos, pos + piece, left === 0 ? 1 : 0);
          else running.update(view.subarray(pos, pos + piece));
          pos += piece;
          bytesDone += piece;
          if (isAborted()) throw cancelled();
        }
        if (clean) {
          try {
            clean = readSync(fd, ONE_BYTE, 0, 1, null) === 0;
          } catch (err) {
            clean = readFailed(err, tolerant, item, root);
          }
        }
        if (running !== undefined) sha256 = running.digest();
        const pad = padded - size;
        if (pad > 0) {
          await ensure(pad);
          view.fill(0, pos, pos + pad);
          pos += pad;
        }
      }
      if (!clean) {
        if (!tolerant) throw changed(item, root);
        dirty.push(index);
      }
      entries.add(item.path, "file", size, item.mode, undefined, sha256);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  // End of archive: two zero blocks.
  await ensure(BLOCK * 2);
  const end = flushed + pos;
  view.fill(0, pos, pos + BLOCK * 2);
  pos += BLOCK * 2;
  await flush(false);
  return { entries: entries.finish(), layout: { offsets: Float64Array.from(offsets), lengths: Float64Array.from(lengths), end, dirty } };
}

/**
 * Opens a listed file to read it; -1 when it vanished (or became a symlink or dir) and `tolerant`,
 * WRONG_STATE for that when not.
 */
function openToRead(abs: string, tolerant: boolean, item: WalkItem, root: string): number {
  try {
    return openSync(abs, READ_FLAGS);
  } catch (err) {
    readFailed(err, tolerant, item, root);
    return -1;
  }
}

/** After a failed open or read: false when `tolerant` (the entry is then zero-filled and dirty), else throws (WRONG_STATE when the file vanished). */
function readFailed(err: unknown, tolerant: boolean, item: WalkItem, root: string): false {
  if (tolerant) return false;
  throw VANISHED.has((err as NodeJS.ErrnoException).code ?? "") ? changed(item, root) : err;
}

/**
 * Reads exactly `size` bytes at `offset`; false when the file turned out shorter or longer. Asks for
 * one byte more when `room` allows, so that a short last read proves the end without another call.
 */
function readWhole(fd: number, view: Uint8Array, offset: number, size: number, room: number): boolean {
  const ask = Math.min(size + 1, room);
  let done = 0;
  while (done < size) {
    const read = readSync(fd, view, offset + done, ask - done, null);
    if (read === 0) return false;
    done += read;
  }
  if (done > size) return false;
  if (ask > size) return true; // the last read stopped short of what was asked: end of file
  return readSync(fd, ONE_BYTE, 0, 1, null) === 0;
}

function readFully(fd: number, view: Uint8Array, offset: number, length: number): boolean {
  let done = 0;
  while (done < length) {
    const read = readSync(fd, view, offset + done, length - done, null);
    if (read === 0) return false;
    done += read;
  }
  return true;
}

function changed(item: WalkItem, root: string): HoistError {
  return new HoistError("WRONG_STATE", `${item.path} changed while the snapshot was taken; stop the service (and anything else writing to ${root}) and retry`, {
    details: { path: item.path },
  });
}
