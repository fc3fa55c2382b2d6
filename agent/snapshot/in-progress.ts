/**
 * `.partial` dirs this process is writing right now. Pruning skips them, so that a prune running
 * beside a create (e.g. another service sharing the snapshots dir) never deletes a snapshot being
 * taken. Another process pruning the same dir at the same time is not covered.
 */
const inProgress = new Set<string>();

export function markInProgress(partialDir: string): void {
  inProgress.add(partialDir);
}

export function unmarkInProgress(partialDir: string): void {
  inProgress.delete(partialDir);
}

export function isInProgress(partialDir: string): boolean {
  return inProgress.has(partialDir);
}
