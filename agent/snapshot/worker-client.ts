import { Worker } from "node:worker_threads";
import { HoistError, throwIfAborted, type ErrorCode } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { CREDITS, type FromWorker, type PackResult, type ScanResult, type ToWorker, type WireError } from "./worker-protocol.ts";

/** How long a cancelled job may take to wind down before the worker is terminated. */
const CANCEL_GRACE_MS = 10_000;

export interface UnpackJob {
  mode: "verify" | "extract";
  target?: string;
  entries: SnapshotEntry[];
  chown: boolean;
  label: string;
}

/** Hands one chunk to the worker; resolves once the window has room. Throws when the job failed. */
export type PushChunk = (chunk: Uint8Array) => Promise<void>;

type Terminal = { ok: true; result: unknown } | { ok: false; error: Error };

/**
 * The main-thread side of the snapshot worker thread. One worker serves one operation (create,
 * verify or restore), its jobs one after the other. Cancelling (signal, or a failing sink/feed) is
 * cooperative — the worker closes its files and answers — so no file descriptor leaks; the worker
 * is terminated only if it does not answer within a grace period.
 */
export class SnapshotWorker {
  private readonly worker: Worker;
  private readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly listeners = new Map<number, (message: FromWorker) => void>();
  private nextJob = 1;
  private dead: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL("./worker-bootstrap.mjs", import.meta.url), { workerData: { abort: this.abortFlag.buffer } });
    this.worker.on("message", (message: FromWorker) => this.listeners.get(message.job)?.(message));
    const die = (err: Error) => {
      this.dead ??= err;
      for (const listener of [...this.listeners.values()]) listener({ type: "error", job: -1, error: { code: "INTERNAL", message: err.message } });
    };
    this.worker.on("error", (err) => die(new HoistError("INTERNAL", `snapshot worker failed: ${err.message}`, { cause: err })));
    this.worker.on("exit", (code) => die(new HoistError("INTERNAL", `snapshot worker exited (code ${code})`)));
  }

  /** Stops the worker thread. */
  async close(): Promise<void> {
    this.listeners.clear();
    await this.worker.terminate();
  }

  /** Walks a data dir (kept in the worker for the following `pack`) and returns its totals. */
  async scan(root: string, signal?: AbortSignal): Promise<ScanResult> {
    const job = this.nextJob++;
    const terminal = this.terminal(job, () => undefined, signal);
    this.post({ op: "scan", job, root });
    return (await this.settle(job, terminal, signal)) as ScanResult;
  }

  /**
   * Packs a data dir. `sink` is called for every chunk as soon as it arrives, in order, and must
   * resolve when the chunk is dealt with (a credit goes back then). A rejecting sink cancels the job.
   */
  async pack(root: string, sink: (chunk: Buffer, bytesDone: number) => Promise<void>, signal?: AbortSignal): Promise<PackResult> {
    const job = this.nextJob++;
    const sinks: Promise<void>[] = [];
    let sinkError: Error | undefined;
    const terminal = this.terminal(
      job,
      (message) => {
        if (message.type !== "chunk") return;
        const done = sink(Buffer.from(message.buffer, 0, message.length), message.bytesDone).then(
          () => {
            if (sinkError === undefined) this.post({ op: "credit", job });
          },
          (err: unknown) => {
            sinkError ??= err as Error;
            this.cancel(job);
          },
        );
        sinks.push(done);
      },
      signal,
    );
    this.post({ op: "pack", job, root });
    try {
      const result = (await this.settle(job, terminal, signal)) as PackResult;
      await Promise.all(sinks);
      if (sinkError !== undefined) throw sinkError;
      return result;
    } catch (err) {
      await Promise.all(sinks);
      throw sinkError ?? err;
    }
  }

  /**
   * Checks (and in extract mode writes) one archive. `feed` pushes the archive's tar bytes in
   * order; the worker answers each chunk with a credit. Resolves when the worker accepted the
   * whole archive; rejects with the worker's SNAPSHOT_CORRUPT (or other) error, the feed's error,
   * or CANCELLED/TIMEOUT.
   */
  async unpack(
    job: UnpackJob,
    feed: (push: PushChunk) => Promise<void>,
    onCredit: (bytesDone: number) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const id = this.nextJob++;
    let inflight = 0;
    let wake: (() => void) | undefined;
    let failed: Error | undefined;
    const terminal = this.terminal(
      id,
      (message) => {
        if (message.type !== "credit") return;
        inflight -= 1;
        onCredit(message.bytesDone);
        wake?.();
      },
      signal,
    );
    terminal.then((end) => {
      if (!end.ok) failed = end.error;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort, { once: true });

    const push: PushChunk = async (chunk) => {
      while (inflight >= CREDITS && failed === undefined && !signal?.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (failed !== undefined) throw failed;
      throwIfAborted(signal);
      inflight += 1;
      const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
      const buffer = owned ? (chunk.buffer as ArrayBuffer) : chunk.slice().buffer;
      this.post({ op: "chunk", job: id, buffer, length: chunk.byteLength }, [buffer]);
    };

    this.post({ op: "unpack", job: id, mode: job.mode, target: job.target, entries: job.entries, chown: job.chown, label: job.label });
    try {
      try {
        await feed(push);
      } catch (err) {
        if (failed !== undefined) throw failed;
        this.cancel(id);
        await terminal;
        throw err;
      }
      this.post({ op: "end", job: id });
      await this.settle(id, terminal, signal);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Registers a job; resolves with its terminal message. Aborting the signal cancels the job. */
  private terminal(job: number, onMessage: (message: FromWorker) => void, signal?: AbortSignal): Promise<Terminal> {
    return new Promise<Terminal>((resolve) => {
      if (this.dead !== undefined) {
        resolve({ ok: false, error: this.dead });
        return;
      }
      const onAbort = () => this.cancel(job);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.listeners.set(job, (message) => {
        if (message.type === "result" || message.type === "error") {
          this.listeners.delete(job);
          signal?.removeEventListener("abort", onAbort);
          resolve(message.type === "result" ? { ok: true, result: message.result } : { ok: false, error: fromWire(message.error) });
          return;
        }
        onMessage(message);
      });
    });
  }

  private async settle(job: number, terminal: Promise<Terminal>, signal?: AbortSignal): Promise<unknown> {
    const end = await terminal;
    if (end.ok) return end.result;
    // A job cancelled because of the signal reports CANCELLED; say TIMEOUT when that was the reason.
    if (signal?.aborted && end.error instanceof HoistError && end.error.code === "CANCELLED") throwIfAborted(signal);
    void job;
    throw end.error;
  }

  /** Asks the worker to stop the job; terminates the worker if it does not answer in time. */
  private cancel(job: number): void {
    Atomics.store(this.abortFlag, 0, 1);
    this.post({ op: "cancel", job });
    const timer = setTimeout(() => {
      if (this.listeners.has(job)) void this.worker.terminate();
    }, CANCEL_GRACE_MS);
    timer.unref();
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.dead === undefined) this.worker.postMessage(message, transfer);
  }
}

function fromWire(error: WireError): HoistError {
  return new HoistError(error.code as ErrorCode, error.message, { details: error.details });
}
