import { closeSync, constants, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { HoistError } from "../../shared/errors/index.ts";
import { decideDelta, patchInPlace, type Precopy } from "./apply-delta.ts";
import { packDataDir, type PackOptions } from "./pack.ts";
import { END_OF_ARCHIVE } from "./tar-format.ts";
import { decodeEntries } from "./wire-entries.ts";
import { Unpacker } from "./unpack.ts";
import { writeAll } from "./write-all.ts";
import { walkDataDir, cancelled, type WalkResult } from "./walk.ts";
import type { DeltaResult, FromWorker, PackResult, ToWorker, WireError } from "./worker-protocol.ts";

/**
 * The snapshot worker thread: walks and reads data dirs (pack) and checks or writes them (unpack)
 * with synchronous fs calls. One job at a time; the main thread drives it (worker-client.ts).
 */
const port = parentPort!;
const data = workerData as { abort: SharedArrayBuffer; slots: SharedArrayBuffer[] };
const abortFlag = new Int32Array(data.abort);
const slots = data.slots.map((buffer) => new Uint8Array(buffer));
const isAborted = () => Atomics.load(abortFlag, 0) !== 0;

const walks = new Map<string, WalkResult>();
/** First phases of two-phase snapshots, by data dir, until their delta (or a drop). */
const precopies = new Map<string, Precopy>();
let freeSlots: number[] = [];
let slotWaiter: (() => void) | undefined;
let unpacker: Unpacker | undefined;
let unpackJob = -1;

function send(message: FromWorker): void {
  port.postMessage(message);
}

function sendError(job: number, err: unknown): void {
  const errno = (err as NodeJS.ErrnoException).code;
  const error: WireError =
    err instanceof HoistError
      ? { code: err.code, message: err.message, details: err.details }
      : { code: errno === "ENOSPC" ? "DISK_FULL" : "INTERNAL", message: err instanceof Error ? err.message : String(err), details: { errno } };
  send({ type: "error", job, error });
}

function wake(): void {
  const waiter = slotWaiter;
  slotWaiter = undefined;
  waiter?.();
}

/**
 * The next free slot. Yields to the event loop first, so that credits the main thread sent while
 * this thread packed are counted: without that, pack saw no free slot whenever it filled the last
 * one (credits are messages) and hashed the next file itself while the main thread idled.
 */
async function acquireSlot(): Promise<number> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  for (;;) {
    if (isAborted()) throw cancelled();
    const slot = freeSlots.pop();
    if (slot !== undefined) return slot;
    await new Promise<void>((resolve) => (slotWaiter = resolve));
  }
}

/**
 * Packs `items` of `root` into the slots; with `fd` also writes them there from `startOffset` on.
 * The consumer gets every chunk (and hashes it).
 */
async function packInto(job: number, root: string, items: WalkResult["items"], fd: number | undefined, options: PackOptions): Promise<Awaited<ReturnType<typeof packDataDir>>> {
  freeSlots = slots.map((_, index) => index);
  let position = options.startOffset ?? 0;
  return packDataDir(
    root,
    items,
    slots,
    {
      acquire: acquireSlot,
      consumerBusy: () => freeSlots.length === 0,
      deliver: (slot, length, segments, bytesDone) => {
        if (fd !== undefined) writeAll(fd, slots[slot]!, position, length);
        position += length;
        send({ type: "chunk", job, slot, length, segments, bytesDone });
      },
    },
    isAborted,
    options,
  );
}

async function runPack(job: number, root: string, archive: string | undefined, tolerant: boolean, keep: boolean): Promise<void> {
  const walk = walks.get(root) ?? walkDataDir(root, isAborted, { tolerant });
  walks.delete(root);
  const fd = archive === undefined ? undefined : openSync(archive, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const result = await packInto(job, root, walk.items, fd, { tolerant });
    if (fd !== undefined) fsyncSync(fd);
    if (keep) {
      const packed = decodeEntries(result.entries);
      precopies.set(root, { entries: walk.items.map((item, index) => ({ item, type: packed[index]!.type, target: packed[index]!.target })), layout: result.layout });
    }
    send({ type: "result", job, result: { entries: result.entries, layout: result.layout } satisfies PackResult });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function runDelta(job: number, root: string, archive: string, startedMs: number, maxAppendBytes: number): Promise<void> {
  const pre = precopies.get(root);
  precopies.delete(root);
  if (pre === undefined) {
    send({ type: "result", job, result: { fallback: true, reason: "the first phase is gone" } satisfies DeltaResult });
    return;
  }
  const walk = walkDataDir(root, isAborted);
  const decision = walk.missing ? ({ fallback: true, reason: "the data dir is gone" } as const) : decideDelta(pre, walk.items, startedMs, maxAppendBytes);
  if (decision.fallback) {
    send({ type: "result", job, result: decision satisfies DeltaResult });
    return;
  }
  const { plan } = decision;
  const fd = openSync(archive, constants.O_RDWR);
  try {
    patchInPlace(fd, pre, plan);
    const appendStart = pre.layout.end;
    const packed = await packInto(job, root, plan.append, fd, { startOffset: appendStart });
    const archiveBytes = packed.layout.end + END_OF_ARCHIVE.length;
    ftruncateSync(fd, archiveBytes);
    fsyncSync(fd);
    const retired = plan.keep.flatMap((kept, index) => (kept ? [] : [index]));
    const result: DeltaResult = { retired, rewritten: plan.rewrite.map(({ index, item }) => ({ index, mode: item.mode })), appended: packed.entries, layout: packed.layout, appendStart, archiveBytes };
    send({ type: "result", job, result });
  } finally {
    closeSync(fd);
  }
}

port.on("message", (message: ToWorker) => {
  switch (message.op) {
    case "scan": {
      try {
        const walk = walkDataDir(message.root, isAborted, { tolerant: message.tolerant === true });
        walks.set(message.root, walk);
        send({ type: "result", job: message.job, result: { missing: walk.missing, entries: walk.items.length, files: walk.files, bytes: walk.bytes } });
      } catch (err) {
        sendError(message.job, err);
      }
      break;
    }
    case "pack":
      runPack(message.job, message.root, message.archive, message.tolerant === true, message.keep === true).catch((err: unknown) => sendError(message.job, err));
      break;
    case "delta":
      runDelta(message.job, message.root, message.archive, message.startedMs, message.maxAppendBytes).catch((err: unknown) => sendError(message.job, err));
      break;
    case "drop":
      precopies.delete(message.root);
      break;
    case "reset":
      walks.clear();
      break;
    case "credit":
      freeSlots.push(message.slot);
      wake();
      break;
    case "cancel": {
      wake();
      if (unpacker !== undefined && message.job === unpackJob) {
        unpacker.close();
        unpacker = undefined;
        sendError(message.job, cancelled());
      }
      break;
    }
    case "unpack": {
      try {
        unpackJob = message.job;
        unpacker = new Unpacker({
          mode: message.mode,
          target: message.target,
          entries: decodeEntries(message.entries),
          chown: message.chown,
          hash: message.mode === "verify" || message.hashParity !== undefined,
          label: message.label,
          ...(message.hashParity === undefined ? {} : { hashParity: message.hashParity }),
        });
      } catch (err) {
        unpacker = undefined;
        sendError(message.job, err);
      }
      break;
    }
    case "chunk": {
      if (unpacker === undefined || message.job !== unpackJob) break; // the job already failed
      try {
        if (isAborted()) throw cancelled();
        unpacker.push(slots[message.slot]!.subarray(0, message.length));
        send({ type: "credit", job: message.job, slot: message.slot, bytesDone: unpacker.bytesDone, segments: unpacker.takeSegments() });
      } catch (err) {
        unpacker.close();
        unpacker = undefined;
        sendError(message.job, err);
      }
      break;
    }
    case "end": {
      if (unpacker === undefined || message.job !== unpackJob) break;
      try {
        unpacker.finish();
        send({ type: "result", job: message.job, result: { bytesDone: unpacker.bytesDone } });
      } catch (err) {
        unpacker.close();
        sendError(message.job, err);
      } finally {
        unpacker = undefined;
      }
      break;
    }
  }
});
