import { stampDirs } from "./dir-stamp.ts";

/** How long after a change of its dirs a value is not cached (see InventoryCacheOptions.settleMs). */
export const INVENTORY_SETTLE_MS = 2000;

export interface InventoryCacheOptions<T> {
  /** Reads the value from disk (the slow part: listings and files). */
  read: () => Promise<T>;
  /** The dirs whose entries the value is made of; a change in any of them (as stat sees it) means read again. */
  dirs: readonly string[];
  /**
   * A dir changed less than this long ago is not trusted to show the next change: filesystem
   * timestamps are coarse (a kernel tick, a second on some filesystems), so a second change in the
   * same tick would keep the stamp. Until then every get() reads. Default INVENTORY_SETTLE_MS.
   */
  settleMs?: number;
  /** A cached value older than this is read again whatever the stamps say (in-place edits keep them). Default 60 000 ms. */
  maxAgeMs?: number;
  now?: () => number;
}

interface Entry<T> {
  generation: number;
  key: string;
  readAt: number;
  value: T;
}

/**
 * A value read from disk, kept until it may have changed: the agent calls invalidate() after every
 * change it makes itself, and every get() stats the dirs the value is made of (no listing, no file
 * read), so that another process's change (a `hoist snapshot create` CLI run, an operator) is seen
 * at the next get(). Concurrent get()s of a miss share one read. What stat cannot see, a file
 * rewritten in place without a rename, is seen after `maxAgeMs`.
 */
export class InventoryCache<T> {
  private readonly settleMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private generation = 0;
  private entry: Entry<T> | undefined;
  private reading: { generation: number; key: string; promise: Promise<T> } | undefined;
  private reads = 0;

  constructor(private readonly options: InventoryCacheOptions<T>) {
    this.settleMs = options.settleMs ?? INVENTORY_SETTLE_MS;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Forgets the value: the next get() reads from disk. A read running now is not kept. */
  invalidate(): void {
    this.generation += 1;
    this.entry = undefined;
  }

  /** How many times the value was read from disk (not served from the cache). */
  readCount(): number {
    return this.reads;
  }

  /** The value: cached when nothing changed since it was read, else read now. */
  async get(): Promise<T> {
    const generation = this.generation;
    // Stamp before reading: a change during the read then moves the stamp past the stored one.
    const stamp = stampDirs(this.options.dirs);
    const now = this.now();
    const entry = this.entry;
    if (entry && entry.generation === generation && entry.key === stamp.key && now - entry.readAt < this.maxAgeMs) return entry.value;
    const settled = now - stamp.newestChangeMs >= this.settleMs;
    const reading = this.reading;
    if (settled && reading && reading.generation === generation && reading.key === stamp.key) return reading.promise;
    const promise = this.read();
    this.reading = { generation, key: stamp.key, promise };
    try {
      const value = await promise;
      if (settled && generation === this.generation) this.entry = { generation, key: stamp.key, readAt: now, value };
      return value;
    } finally {
      if (this.reading?.promise === promise) this.reading = undefined;
    }
  }

  private read(): Promise<T> {
    this.reads += 1;
    return this.options.read();
  }
}
