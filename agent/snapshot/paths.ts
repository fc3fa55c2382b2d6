import { join } from "node:path";

/** Suffix of a snapshot dir still being written; such a dir is never listed or restored. */
export const PARTIAL_SUFFIX = ".partial";

export function snapshotDir(snapshotsDir: string, id: string): string {
  return join(snapshotsDir, id);
}

export function partialSnapshotDir(snapshotsDir: string, id: string): string {
  return join(snapshotsDir, `${id}${PARTIAL_SUFFIX}`);
}

export function manifestPath(dir: string): string {
  return join(dir, "manifest.json");
}

/** A few hundred bytes repeating the manifest's summary, so that listing does not parse every entry list. */
export function summaryPath(dir: string): string {
  return join(dir, "summary.json");
}

/** Archive file name of the data dir at `index`. */
export function archiveName(index: number, compression: "none" | "gzip"): string {
  return compression === "gzip" ? `data-${index}.tar.gz` : `data-${index}.tar`;
}

/** A relative path inside a data dir: no leading "/", no "." or ".." or empty segment ("." alone is the dir itself). */
export function isSafeRelativePath(path: string): boolean {
  if (path === ".") return true;
  if (path === "" || path.includes("\0") || path.charCodeAt(0) === SLASH) return false;
  // Segment by segment without splitting (checked for every entry of every manifest read).
  for (let start = 0; ;) {
    const slash = path.indexOf("/", start);
    const end = slash < 0 ? path.length : slash;
    const length = end - start;
    if (length === 0) return false;
    if (length <= 2 && path.charCodeAt(start) === DOT && (length === 1 || path.charCodeAt(start + 1) === DOT)) return false;
    if (slash < 0) return true;
    start = slash + 1;
  }
}

const SLASH = 0x2f;
const DOT = 0x2e;
