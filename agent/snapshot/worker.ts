import { parentPort, workerData } from "node:worker_threads";
import { HoistError } from "../../shared/errors/index.ts";
import { packDataDir } from "./pack.ts";
import { Unpacker } from "./unpack.ts";
import { walkDataDir, cancelled, type WalkResult } from "./walk.ts";
import { CHUNK_BYTES, CREDITS, type FromWorker, type ToWorker, type WireError } from "./worker-protocol.ts";

/**
 * The snapshot worker thread: walks, reads and hashes data dirs (pack) and checks or writes them
 * (unpack) with synchronous fs calls. One job at a time; the main thread drives it.
 */
const port = parentPort!;
const abortFlag = new Int32Array(workerData.abort as SharedArrayBuffer);
const isAborted = () => Atomics.load(abortFlag, 0) !== 0;

const walks = new Map<string, WalkResult>();
let credits = CREDITS;
let creditWaiter: (() => void) | undefined;
let unpacker: Unpacker | undefined;
let unpackJob = -1;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function sendError(job: number, err: unknown): void {
  const error: WireError =
    err instanceof HoistError
      ? { code: err.code, message: err.message, details: err.details }
      : { code: (err as NodeJS.ErrnoException).code === "ENOSPC" ? "DISK_FULL" : "INTERNAL", message: err instanceof Error ? err.message : String(err), details: { errno: (err as NodeJS.ErrnoException).code } };
  send({ type: "error", job, error });
}

async function waitForCredit(): Promise<void> {
  while (credits === 0) {
    if (isAborted()) throw cancelled();
    await new Promise<void>((resolve) => (creditWaiter = resolve));
  }
  credits -= 1;
}

async function runPack(job: number, root: string): Promise<void> {
  const walk = walks.get(root) ?? walkDataDir(root, isAborted);
  walks.delete(root);
  credits = CREDITS;
  const entries = await packDataDir(walk.items, CHUNK_BYTES, async (buffer, length, bytesDone) => {
    await waitForCredit();
    send({ type: "chunk", job, buffer, length, bytesDone }, [buffer]);
  }, isAborted);
  send({ type: "result", job, result: { entries } });
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
      runPack(message.job, message.root).catch((err: unknown) => sendError(message.job, err));
      break;
    case "credit":
    case "cancel": {
      if (message.op === "credit") credits += 1;
      const waiter = creditWaiter;
      creditWaiter = undefined;
      waiter?.();
      if (message.op === "cancel" && unpacker !== undefined && message.job === unpackJob) {
        unpacker.close();
        unpacker = undefined;
        sendError(message.job, cancelled());
      }
      break;
    }
    case "unpack": {
      try {
        unpackJob = message.job;
        unpacker = new Unpacker({ mode: message.mode, target: message.target, entries: message.entries, chown: message.chown, label: message.label });
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
        unpacker.push(new Uint8Array(message.buffer, 0, message.length));
        send({ type: "credit", job: message.job, bytesDone: unpacker.bytesDone });
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
