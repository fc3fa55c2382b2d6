import type { PackLayout } from "./pack.ts";
import { planDelta, type DeltaPlan, type PrecopiedEntry } from "./plan-delta.ts";
import { BLOCK, encodeHeader, headerSize, retiredBlock, type TarHeader } from "./tar-format.ts";
import type { WalkItem } from "./walk.ts";
import { writeAll } from "./write-all.ts";

/** A first phase kept in the worker until its second phase. */
export interface Precopy {
  entries: PrecopiedEntry[];
  layout: PackLayout;
}

/** The size field of a ustar header holds at most this; a retired region's comment must fit it. */
const MAX_RETIRED_DATA = 0o77777777777;

export type DeltaDecision = { fallback: true; reason: string } | { fallback: false; plan: DeltaPlan; appendBytes: number };

/**
 * Plans the second phase and checks that it can be written in place (pure): falls back to a full
 * snapshot when more than `maxAppendBytes` of file content would be appended (a delta that large
 * would cost more than starting over) or when a header cannot be rewritten in its old space.
 */
export function decideDelta(pre: Precopy, post: WalkItem[], startedMs: number, maxAppendBytes: number): DeltaDecision {
  const plan = planDelta(pre.entries, new Set(pre.layout.dirty), post, startedMs);
  const appendBytes = plan.append.reduce((sum, item) => sum + (item.type === "file" ? item.size : 0), 0);
  if (appendBytes > maxAppendBytes) return { fallback: true, reason: `${appendBytes} bytes changed since the first phase` };
  for (const [index, kept] of plan.keep.entries()) {
    if (!kept && pre.layout.lengths[index]! - BLOCK > MAX_RETIRED_DATA) return { fallback: true, reason: `${pre.entries[index]!.item.path} is too large to retire in place` };
  }
  for (const { index, item } of plan.rewrite) {
    if (headerSize(dirHeader(item)) !== pre.layout.lengths[index]) return { fallback: true, reason: `the header of ${item.path} no longer fits its place` };
  }
  return { fallback: false, plan, appendBytes };
}

/** Overwrites retired entries with skipped comment blocks and rewrites changed dir headers, in place (synchronous). */
export function patchInPlace(fd: number, pre: Precopy, plan: DeltaPlan): void {
  const newline = Buffer.from("\n");
  for (const [index, kept] of plan.keep.entries()) {
    if (kept) continue;
    const offset = pre.layout.offsets[index]!;
    const length = pre.layout.lengths[index]!;
    const { header, prefix } = retiredBlock(length);
    writeAll(fd, header, offset);
    if (prefix.length > 0) {
      writeAll(fd, prefix, offset + BLOCK);
      writeAll(fd, newline, offset + length - 1);
    }
  }
  for (const { index, item } of plan.rewrite) {
    const header = dirHeader(item);
    const block = new Uint8Array(headerSize(header));
    encodeHeader(header, block, 0);
    writeAll(fd, block, pre.layout.offsets[index]!);
  }
}

export function dirHeader(item: WalkItem): TarHeader {
  return { path: item.path, type: "dir", mode: item.mode, uid: item.uid, gid: item.gid, size: 0, mtime: item.mtime };
}
