import { inodeKey, type WalkItem } from "./walk.ts";

/**
 * A file whose ctime is this close to (or after) the start of the first phase is taken again in the
 * second: a write in the same tick of the filesystem's coarse clock as the first phase's look at it
 * would leave size, mtime and ctime unchanged (the "racy clean" case git knows). Also covers small
 * clock steps.
 */
export const RACY_MARGIN_MS = 2_000;

/** What the first phase archived of one entry: the walk item it came from and its manifest type. */
export interface PrecopiedEntry {
  item: WalkItem;
  /** "hardlink" when it was stored as a link to an earlier file (`target`). */
  type: "file" | "dir" | "symlink" | "hardlink";
  target?: string;
}

export interface DeltaPlan {
  /** Per first-phase entry: kept as it is in the archive. False: retired (overwritten by a skipped comment block). */
  keep: boolean[];
  /** First-phase dirs kept in place whose header is rewritten with the item's current mode, owner and mtime. */
  rewrite: { index: number; item: WalkItem }[];
  /** Items of the second walk to append, in walk order (so a dir still comes before its contents). */
  append: WalkItem[];
}

/**
 * Decides the second phase of a two-phase snapshot (pure): which entries archived while the service
 * ran still match the stopped data dir, and what must be appended. A file or symlink is kept only
 * when its inode, size, mode, owner, mtime and ctime are all unchanged, it was not seen changing
 * while read (`dirty`), and its ctime is older than the first phase's start minus RACY_MARGIN_MS.
 * A hard-link group is kept or taken again as a whole (a new or removed link changes the inode's
 * ctime). A dir stays in place (its header rewritten if its mode, owner or mtime changed) unless it
 * is gone or no longer a dir.
 */
export function planDelta(pre: PrecopiedEntry[], dirty: ReadonlySet<number>, post: WalkItem[], startedMs: number): DeltaPlan {
  const postByPath = new Map<string, number>();
  for (const [index, item] of post.entries()) postByPath.set(item.path, index);
  const keep: boolean[] = [];
  const matched = new Int32Array(post.length).fill(-1);
  const rewrite: DeltaPlan["rewrite"] = [];
  const racyAfter = startedMs - RACY_MARGIN_MS;

  for (const [index, entry] of pre.entries()) {
    const at = postByPath.get(entry.item.path);
    const now = at === undefined ? undefined : post[at]!;
    let same = false;
    if (now !== undefined) {
      const was = entry.item;
      if (was.type === "dir") same = now.type === "dir";
      else same = now.type === was.type && !dirty.has(index) && was.ctimeMs < racyAfter && unchanged(was, now);
    }
    keep.push(same);
    if (same) {
      matched[at!] = index;
      if (entry.item.type === "dir" && !sameMeta(entry.item, now!)) rewrite.push({ index, item: now! });
    }
  }

  // Hard links: a group is kept only whole, and only when no appended item shares its inode.
  const groupOf = new Map<string, number[]>();
  for (const [index, entry] of pre.entries()) {
    if (entry.type !== "file" && entry.type !== "hardlink") continue;
    if (entry.item.nlink <= 1 && entry.type === "file") continue;
    const head = entry.type === "hardlink" ? entry.target! : entry.item.path;
    groupOf.set(head, [...(groupOf.get(head) ?? []), index]);
  }
  let changedGroup = true;
  while (changedGroup) {
    changedGroup = false;
    const appendedInodes = new Set<string>();
    for (const [index, item] of post.entries()) if (matched[index] === -1 && item.type === "file" && item.nlink > 1) appendedInodes.add(inodeKey(item));
    for (const members of groupOf.values()) {
      const whole = members.every((index) => keep[index]);
      const clash = members.some((index) => keep[index] && appendedInodes.has(inodeKey(pre[index]!.item)));
      if (whole && !clash) continue;
      for (const index of members) {
        if (!keep[index]) continue;
        keep[index] = false;
        changedGroup = true;
        const at = postByPath.get(pre[index]!.item.path);
        if (at !== undefined) matched[at] = -1;
      }
    }
  }

  const append = post.filter((_, index) => matched[index] === -1);
  return { keep, rewrite: rewrite.filter(({ index }) => keep[index]), append };
}

function unchanged(was: WalkItem, now: WalkItem): boolean {
  return was.ino === now.ino && was.dev === now.dev && was.size === now.size && was.mtimeMs === now.mtimeMs && was.ctimeMs === now.ctimeMs && was.target === now.target && sameMeta(was, now);
}

function sameMeta(was: WalkItem, now: WalkItem): boolean {
  return was.mode === now.mode && was.uid === now.uid && was.gid === now.gid && was.mtime === now.mtime;
}
