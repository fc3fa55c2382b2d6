import type { SnapshotEntry } from "./manifest.ts";

/**
 * Manifest entries as a few flat arrays, for passing between the main thread and the snapshot
 * worker: one string and four typed arrays clone as memory copies, where 100k entry objects cost a
 * structured clone of every object (measured: most of the worker's send and both threads' GC for
 * 100k tiny files).
 */
export interface WireEntries {
  /** Paths, NUL-separated (a path never holds NUL). */
  paths: string;
  types: Uint8Array;
  modes: Uint16Array;
  sizes: Float64Array;
  /** sha256 per entry as 32 bytes (zeros when not known); length 0 when none is known. */
  digests: Uint8Array;
  /** Symlink and hardlink targets, NUL-separated, in entry order of those entries. */
  targets: string;
}

const TYPES = ["file", "dir", "symlink", "hardlink"] as const;
const TYPE_CODE: Record<SnapshotEntry["type"], number> = { file: 0, dir: 1, symlink: 2, hardlink: 3 };

export function encodeEntries(entries: readonly SnapshotEntry[]): WireEntries {
  const count = entries.length;
  const types = new Uint8Array(count);
  const modes = new Uint16Array(count);
  const sizes = new Float64Array(count);
  const withDigests = entries.some((entry) => entry.sha256 !== undefined);
  const digests = new Uint8Array(withDigests ? count * 32 : 0);
  const paths: string[] = [];
  const targets: string[] = [];
  for (let i = 0; i < count; i++) {
    const entry = entries[i]!;
    paths.push(entry.path);
    types[i] = TYPE_CODE[entry.type];
    modes[i] = entry.mode;
    sizes[i] = entry.size;
    if (entry.target !== undefined) targets.push(entry.target);
    if (withDigests && entry.sha256 !== undefined) Buffer.from(digests.buffer, i * 32, 32).write(entry.sha256, "hex");
  }
  return { paths: paths.join("\0"), types, modes, sizes, digests, targets: targets.join("\0") };
}

/** The entries again; `sha256Of(index)` supplies digests not carried (files hashed on the other thread). */
export function decodeEntries(wire: WireEntries, sha256Of?: (index: number) => string | undefined): SnapshotEntry[] {
  const count = wire.types.length;
  const paths = count === 0 ? [] : wire.paths.split("\0");
  const targets = wire.targets === "" ? [] : wire.targets.split("\0");
  const digests = Buffer.from(wire.digests.buffer, wire.digests.byteOffset, wire.digests.byteLength);
  const entries = new Array<SnapshotEntry>(count);
  let nextTarget = 0;
  for (let i = 0; i < count; i++) {
    const type = TYPES[wire.types[i]!]!;
    const entry: SnapshotEntry = { path: paths[i]!, type, size: wire.sizes[i]!, mode: wire.modes[i]! };
    if (type === "symlink" || type === "hardlink") entry.target = targets[nextTarget++];
    else if (type === "file") {
      const carried = digests.length === 0 ? undefined : digests.subarray(i * 32, i * 32 + 32);
      const sha256 = carried !== undefined && carried.some((byte) => byte !== 0) ? carried.toString("hex") : sha256Of?.(i);
      if (sha256 !== undefined) entry.sha256 = sha256;
    }
    entries[i] = entry;
  }
  return entries;
}

/**
 * Builds WireEntries entry by entry, as the packer goes, without an entry object per entry (for
 * 100k tiny files the objects and their encoding were a good part of the worker's GC).
 */
export class WireEntriesBuilder {
  private count = 0;
  private types = new Uint8Array(1024);
  private modes = new Uint16Array(1024);
  private sizes = new Float64Array(1024);
  /** Allocated with the first digest known here (the worker hashed that file itself). */
  private digests: Uint8Array | undefined;
  private readonly paths: string[] = [];
  private readonly targets: string[] = [];

  /** Entries added so far: the index the next one gets. */
  get length(): number {
    return this.count;
  }

  /** Adds an entry; `target` for symlinks and hardlinks, `sha256` (32 bytes) for a file hashed here. */
  add(path: string, type: SnapshotEntry["type"], size: number, mode: number, target?: string, sha256?: Uint8Array): void {
    if (this.count === this.types.length) this.grow();
    const index = this.count++;
    this.paths.push(path);
    this.types[index] = TYPE_CODE[type];
    this.modes[index] = mode;
    this.sizes[index] = size;
    if (target !== undefined) this.targets.push(target);
    if (sha256 !== undefined) {
      this.digests ??= new Uint8Array(this.types.length * 32);
      this.digests.set(sha256, index * 32);
    }
  }

  finish(): WireEntries {
    const count = this.count;
    return {
      paths: this.paths.join("\0"),
      types: this.types.slice(0, count),
      modes: this.modes.slice(0, count),
      sizes: this.sizes.slice(0, count),
      digests: this.digests === undefined ? new Uint8Array(0) : this.digests.slice(0, count * 32),
      targets: this.targets.join("\0"),
    };
  }

  private grow(): void {
    const capacity = this.types.length * 2;
    const types = new Uint8Array(capacity);
    types.set(this.types);
    this.types = types;
    const modes = new Uint16Array(capacity);
    modes.set(this.modes);
    this.modes = modes;
    const sizes = new Float64Array(capacity);
    sizes.set(this.sizes);
    this.sizes = sizes;
    if (this.digests !== undefined) {
      const digests = new Uint8Array(capacity * 32);
      digests.set(this.digests);
      this.digests = digests;
    }
  }
}
