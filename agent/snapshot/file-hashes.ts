import { createHash, hash, type Hash } from "node:crypto";
import { HoistError } from "../../shared/errors/index.ts";
import type { SnapshotEntry } from "./manifest.ts";
import { decodeEntries, type WireEntries } from "./wire-entries.ts";

/**
 * sha256 of every file, from the file segments the worker reports for each chunk (packing: the
 * files it did not hash itself; verify and restore: the files handed off to this thread).
 */
export class FileHashes {
  private readonly digests = new Map<number, string>();
  private index = -1;
  private hash: Hash | undefined;

  add(view: Uint8Array, segments: number[]): void {
    for (let i = 0; i < segments.length; i += 4) {
      const index = segments[i]!;
      const piece = view.subarray(segments[i + 1], segments[i + 2]);
      const last = segments[i + 3] === 1;
      if (this.hash === undefined || this.index !== index) {
        if (last) {
          // A whole file in one piece (most files): the one-shot hash skips a Hash object per file.
          this.digests.set(index, hash("sha256", piece, "hex"));
          continue;
        }
        this.index = index;
        this.hash = createHash("sha256");
      }
      this.hash.update(piece);
      if (last) {
        this.digests.set(index, this.hash.digest("hex"));
        this.hash = undefined;
      }
    }
  }

  /** The sha256 (hex) of the file with this entry index, once its last segment was added. */
  digestOf(index: number): string | undefined {
    return this.digests.get(index);
  }

  /** The entries from the worker with every file's sha256 (the worker may have hashed some files itself). */
  fill(wire: WireEntries): SnapshotEntry[] {
    const entries = decodeEntries(wire, (index) => this.digests.get(index));
    for (const entry of entries) if (entry.type === "file" && entry.sha256 === undefined) throw new HoistError("INTERNAL", `no sha256 computed for ${entry.path}`);
    this.digests.clear();
    return entries;
  }
}
