/**
 * How long after the agent's last change the garbage is collected: past the snapshot worker's idle
 * time (5 s, agent/snapshot/worker-client.ts), so that the buffers it shares with the agent are
 * given back in the same collection.
 */
export const COLLECT_AFTER_MS = 6_000;

let timer: NodeJS.Timeout | undefined;

/**
 * Gives back the memory an operation took: a full garbage collection COLLECT_AFTER_MS after the last
 * call, when node runs with `--expose-gc` (the systemd unit sets it in NODE_OPTIONS); nothing
 * without it. An idle agent allocates next to nothing, so V8 may leave what a snapshot of 1 GiB
 * left behind in its heap (70 MiB, and 34 MiB of buffers) uncollected for minutes; one collection
 * takes the agent back to its idle size. Calls within the delay share one collection. Does not keep
 * the process alive.
 */
export function collectGarbageSoon(): void {
  const gc = globalThis.gc;
  if (typeof gc !== "function") return;
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = undefined;
    gc();
  }, COLLECT_AFTER_MS);
  timer.unref();
}
