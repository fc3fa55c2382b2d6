import { closeSync, constants, fsyncSync, openSync, writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { HoistError } from "../../shared/errors/index.ts";
import { packDataDir } from "./pack.ts";
import { Unpacker } from "./unpack.ts";
import { walkDataDir, cancelled, type WalkResult } from "./walk.ts";
import type { FromWorker, ToWorker, WireError } from "./worker-protocol.ts";

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

async function acquireSlot(): Promise<number> {
  for (;;) {
    if (isAborted()) throw cancelled();
    const slot = freeSlots.pop();
    if (slot !== undefined) return slot;
    await new Promise<void>((resolve) => (slotWaiter = resolve));
  }
}

async function runPack(job: number, root: string, archive: string | undefined): Promise<void> {
  const walk = walks.get(root) ?? walkDataDir(root, isAborted);
  walks.delete(root);
  freeSlots = slots.map((_, index) => index);
  const fd = archive === undefined ? undefined : openSync(archive, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const entries = await packDataDir(
      walk.items,
      slots,
      {
        acquire: acquireSlot,
        consumerBusy: () => freeSlots.length <= 1,
        deliver: (slot, length, segments, bytesDone) => {
          if (fd !== undefined) {
            const view = slots[slot]!;
            let done = 0;
            while (done < length) done += writeSync(fd, view, done, length - done);
          }
          send({ type: "chunk", job, slot, length, segments, bytesDone });
        },
      },
      isAborted,
    );
    if (fd !== undefined) fsyncSync(fd);
    send({ type: "result", job, result: { entries } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

port.on("message", (message: ToWorker) => {
  switch (message.op) {
    case "scan": {
      try {
        const walk = walkDataDir(message.root, isAborted);
        walks.set(message.root, walk);
        send({ type: "result", job: message.job, result: { missing: walk.missing, entries: walk.items.length, files: walk.files, bytes: walk.bytes } });
      } catch (err) {
        sendError(message.job, err);
      }
      break;
    }
    case "pack":
      runPack(message.job, message.root, message.archive).catch((err: unknown) => sendError(message.job, err));
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
        unpacker = new Unpacker({ mode: message.mode, target: message.target, entries: message.entries, chown: message.chown, hash: message.mode === "verify", label: message.label });
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
        send({ type: "credit", job: message.job, slot: message.slot, bytesDone: unpacker.bytesDone });
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
