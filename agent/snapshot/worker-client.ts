import { Worker } from "node:worker_threads";
import { HoistError, throwIfAborted, type ErrorCode } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { encodeEntries } from "./wire-entries.ts";
import { CHUNK_BYTES, SLOTS, type DeltaResult, type FromWorker, type PackResult, type ScanResult, type ToWorker, type WireError } from "./worker-protocol.ts";

/** How long a cancelled job may take to wind down before the worker is terminated. */
const CANCEL_GRACE_MS = 10_000;
/**
 * How long a worker stays up for the next operation (verify right after create, say). Short, so
 * that the memory a big snapshot took in the worker (about 1.3 KiB per entry) is given back soon.
 */
const IDLE_MS = 5_000;
/** How long a worker started ahead (prepareSnapshotWorker) waits for its first operation (a stop hook may take a while). */
const PREPARED_IDLE_MS = 120_000;

let idle: { worker: SnapshotWorker; timer: NodeJS.Timeout } | undefined;

/**
 * A worker for one operation: the idle one when there is one (starting a worker costs about
 * 0.2 s, mostly loading the TypeScript sources), else a new one. Give it back with
 * `releaseSnapshotWorker`.
 */
export function acquireSnapshotWorker(): SnapshotWorker {
  const kept = idle;
  idle = undefined;
  if (kept !== undefined) {
    clearTimeout(kept.timer);
    if (kept.worker.reusable) {
      kept.worker.ref();
      return kept.worker;
    }
    void kept.worker.close().catch(() => undefined);
  }
  return new SnapshotWorker();
}

/** Ends an operation's use of a worker: kept idle for the next one if it is reusable, else stopped. */
export async function releaseSnapshotWorker(worker: SnapshotWorker, idleMs = IDLE_MS): Promise<void> {
  if (!worker.reusable || idle !== undefined) {
    await worker.close();
    return;
  }
  worker.reset();
  worker.unref();
  const timer = setTimeout(() => {
    if (idle?.worker !== worker) return;
    idle = undefined;
    // The work is over: the worker's heap goes with its thread (the agent's collection, agent/memory, frees this thread's garbage).
    void worker.close().catch(() => undefined);
  }, idleMs);
  timer.unref();
  idle = { worker, timer };
}

/**
 * Starts the snapshot worker thread ahead of time, so that a snapshot or restore taken soon after
 * (within two minutes) does not spend its start-up time inside the service's downtime. Call it before
 * stopping the service. Does not keep the process alive.
 */
export function prepareSnapshotWorker(): void {
  if (idle !== undefined) return;
  void releaseSnapshotWorker(new SnapshotWorker(), PREPARED_IDLE_MS);
}

export interface UnpackJob {
  mode: "verify" | "extract";
  target?: string;
  entries: SnapshotEntry[];
  chown: boolean;
  label: string;
  /** The worker checks only its share of the files' sha256 (unpack.ts checksHere: the even (0) or odd (1) ones of 4 KiB or more); the others' segments go to `onCredit` for the caller to hash. */
  hashParity?: 0 | 1;
}

/** Feeds archive bytes to an unpack job through the shared slots. */
export interface ChunkFeeder {
  /** A free slot to fill (waits while all are in flight). Throws once the job has failed. */
  acquire(): Promise<{ slot: number; view: Uint8Array }>;
  /** Hands `length` filled bytes of the slot to the worker (0 gives the slot back unused). */
  send(slot: number, length: number): void;
}

/** Called for every packed chunk in order; resolves when the slot may be reused. */
export type PackedChunkHandler = (view: Uint8Array, segments: number[], bytesDone: number) => void | Promise<void>;

type Terminal = { ok: true; result: unknown } | { ok: false; error: Error };

/**
 * The worker's entry file, next to this module. From the sources (tsx) a bootstrap registers tsx in
 * the thread first; in the built CLI (scripts/build-cli.mjs) it is the compiled worker, in the same
 * dist/cli/ folder as the chunk holding this code.
 */
function workerEntry(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./worker-bootstrap.mjs" : "./snapshot-worker.mjs", import.meta.url);
}

/**
 * The main-thread side of the snapshot worker thread (worker.ts). One worker serves one operation
 * (create, verify or restore), its jobs one after the other. Cancelling (signal, or a failing
 * handler/feeder) is cooperative — the worker closes its files and answers — so no file
 * descriptor leaks; the worker is terminated only if it does not answer within a grace period.
 */
export class SnapshotWorker {
  private readonly worker: Worker;
  private readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly slots: Uint8Array[];
  private readonly listeners = new Map<number, (message: FromWorker) => void>();
  private nextJob = 1;
  private dead: Error | undefined;

  constructor() {
    const buffers = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(CHUNK_BYTES));
    this.slots = buffers.map((buffer) => new Uint8Array(buffer));
    this.worker = new Worker(workerEntry(), { workerData: { abort: this.abortFlag.buffer, slots: buffers } });
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

  /** Usable for another job: alive, never cancelled, nothing running. */
  get reusable(): boolean {
    return this.dead === undefined && Atomics.load(this.abortFlag, 0) === 0 && this.listeners.size === 0;
  }

  /** Drops what the worker cached for the operation that used it. */
  reset(): void {
    this.post({ op: "reset", job: 0 });
  }

  /** Lets the process exit while this worker idles (ref() undoes it). */
  unref(): void {
    this.worker.unref();
  }

  ref(): void {
    this.worker.ref();
  }

  /** Walks a data dir (kept in the worker for the following `pack`) and returns its totals. */
  async scan(root: string, signal?: AbortSignal, tolerant = false): Promise<ScanResult> {
    const job = this.nextJob++;
    const terminal = this.register(job, () => undefined, signal);
    this.post({ op: "scan", job, root, tolerant });
    return (await settle(terminal, signal)) as ScanResult;
  }

  /**
   * Packs a data dir. With `archive` the worker also writes the chunks to that new file (and
   * fsyncs it). `onChunk` gets every chunk in order, synchronously on arrival; a rejecting
   * handler cancels the job. `tolerant`: the service may be running (first phase); `keep`: the
   * worker remembers the walk for a `delta` of the same root.
   */
  pack(root: string, archive: string | undefined, onChunk: PackedChunkHandler, signal?: AbortSignal, flags: { tolerant?: boolean; keep?: boolean } = {}): Promise<PackResult> {
    return this.streamChunks((job) => ({ op: "pack", job, root, archive, ...flags }), onChunk, signal) as Promise<PackResult>;
  }

  /** Second phase of a two-phase snapshot packed with `keep` (see ToWorker "delta"); appended chunks go to `onChunk`. */
  delta(root: string, archive: string, startedMs: number, maxAppendBytes: number, onChunk: PackedChunkHandler, signal?: AbortSignal): Promise<DeltaResult> {
    return this.streamChunks((job) => ({ op: "delta", job, root, archive, startedMs, maxAppendBytes }), onChunk, signal) as Promise<DeltaResult>;
  }

  /** Makes the worker forget a kept first phase. */
  drop(root: string): void {
    this.post({ op: "drop", job: 0, root });
  }

  private async streamChunks(message: (job: number) => ToWorker, onChunk: PackedChunkHandler, signal?: AbortSignal): Promise<unknown> {
    const job = this.nextJob++;
    const pending: Promise<void>[] = [];
    let failure: Error | undefined;
    const terminal = this.register(
      job,
      (message) => {
        if (message.type !== "chunk" || failure !== undefined) return;
        let handled: void | Promise<void>;
        try {
          handled = onChunk(this.slots[message.slot]!.subarray(0, message.length), message.segments, message.bytesDone);
        } catch (err) {
          handled = Promise.reject(err);
        }
        const credit = () => {
          if (failure === undefined) this.post({ op: "credit", job, slot: message.slot });
        };
        if (handled === undefined) credit();
        else {
          pending.push(
            handled.then(credit, (err: unknown) => {
              failure ??= err as Error;
              this.cancel(job);
            }),
          );
        }
      },
      signal,
    );
    this.post(message(job));
    let result: unknown;
    try {
      result = await settle(terminal, signal);
    } catch (err) {
      await Promise.all(pending);
      throw failure ?? err;
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
    return result;
  }

  /**
   * Checks (verify) or writes (extract) one archive in the worker. `feed` fills slots with the
   * archive's tar bytes in order. `onCredit` gets, per chunk in order and before its slot is reused,
   * the chunk and the segments of the files handed off (hashParity). Resolves when the worker
   * accepted the whole archive; rejects with the worker's SNAPSHOT_CORRUPT (or other) error, the
   * feed's error, or CANCELLED/TIMEOUT.
   */
  async unpack(job: UnpackJob, feed: (feeder: ChunkFeeder) => Promise<void>, onCredit: (bytesDone: number, chunk: Uint8Array, segments: number[]) => void, signal?: AbortSignal): Promise<void> {
    const lengths = new Map<number, number>();
    const id = this.nextJob++;
    const free = this.slots.map((_, index) => index);
    let wake: (() => void) | undefined;
    let failed: Error | undefined;
    const poke = () => {
      const waiter = wake;
      wake = undefined;
      waiter?.();
    };
    const terminal = this.register(
      id,
      (message) => {
        if (message.type !== "credit") return;
        onCredit(message.bytesDone, this.slots[message.slot]!.subarray(0, lengths.get(message.slot) ?? 0), message.segments ?? []);
        free.push(message.slot);
        poke();
      },
      signal,
    );
    void terminal.then((end) => {
      if (!end.ok) failed = end.error;
      poke();
    });
    signal?.addEventListener("abort", poke, { once: true });

    const feeder: ChunkFeeder = {
      acquire: async () => {
        for (;;) {
          if (failed !== undefined) throw failed;
          throwIfAborted(signal);
          const slot = free.pop();
          if (slot !== undefined) return { slot, view: this.slots[slot]! };
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      send: (slot, length) => {
        if (length === 0) free.push(slot);
        else {
          lengths.set(slot, length);
          this.post({ op: "chunk", job: id, slot, length });
        }
      },
    };

    this.post({ op: "unpack", job: id, mode: job.mode, target: job.target, entries: encodeEntries(job.entries), chown: job.chown, label: job.label, ...(job.hashParity === undefined ? {} : { hashParity: job.hashParity }) });
    try {
      try {
        await feed(feeder);
      } catch (err) {
        if (failed !== undefined) throw failed;
        this.cancel(id);
        await terminal;
        throw err;
      }
      this.post({ op: "end", job: id });
      await settle(terminal, signal);
    } finally {
      signal?.removeEventListener("abort", poke);
    }
  }

  /** Registers a job; resolves with its terminal message. Aborting the signal cancels the job. */
  private register(job: number, onMessage: (message: FromWorker) => void, signal?: AbortSignal): Promise<Terminal> {
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

  /** Asks the worker to stop the job; terminates the worker if it does not answer in time. */
  private cancel(job: number): void {
    Atomics.store(this.abortFlag, 0, 1);
    this.post({ op: "cancel", job });
    const timer = setTimeout(() => {
      if (this.listeners.has(job)) void this.worker.terminate();
    }, CANCEL_GRACE_MS);
    timer.unref();
  }

  private post(message: ToWorker): void {
    if (this.dead === undefined) this.worker.postMessage(message);
  }
}

async function settle(terminal: Promise<Terminal>, signal?: AbortSignal): Promise<unknown> {
  const end = await terminal;
  if (end.ok) return end.result;
  // A job cancelled because of the signal reports CANCELLED; say TIMEOUT when that was the reason.
  if (signal?.aborted && end.error instanceof HoistError && end.error.code === "CANCELLED") throwIfAborted(signal);
  throw end.error;
}

function fromWire(error: WireError): HoistError {
  return new HoistError(error.code as ErrorCode, error.message, { details: error.details });
}
