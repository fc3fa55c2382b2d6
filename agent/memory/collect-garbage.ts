import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * How long after the agent's last change the garbage is collected: past the snapshot worker's idle
 * time (5 s, agent/snapshot/worker-client.ts), so that the buffers it shares with the agent are
 * given back in the same collection.
 */
export const COLLECT_AFTER_MS = 6_000;

let timer: NodeJS.Timeout | undefined;
let hiddenGc: (() => void) | undefined;

/**
 * Gives back the memory an operation took: one full garbage collection COLLECT_AFTER_MS after the
 * last call. An idle agent allocates next to nothing, so V8 may leave what a snapshot of 1 GiB left
 * behind in its heap (70 MiB, and 34 MiB of buffers) uncollected for minutes; one collection takes
 * the agent back near its idle size (bench/README.md, agent benchmark). Calls within the delay share
 * one collection. Does not keep the process alive.
 */
export function collectGarbageSoon(): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = undefined;
    fullCollection();
  }, COLLECT_AFTER_MS);
  timer.unref();
}

/**
 * `gc` of node's `--expose-gc` when given (the systemd unit sets it), else one taken from a new
 * context created while `--expose-gc` is set for that moment only: the process's own global gets
 * no `gc`.
 */
function fullCollection(): void {
  if (typeof globalThis.gc === "function") return void globalThis.gc();
  if (hiddenGc === undefined) {
    setFlagsFromString("--expose-gc");
    try {
      hiddenGc = runInNewContext("gc") as () => void;
    } finally {
      setFlagsFromString("--no-expose-gc");
    }
  }
  hiddenGc();
}
