/**
 * Thins out the live output of `hoist rollout start` for the demo: every state-machine step and
 * every rollout event stays, the chatter goes (per-file extraction, "healthy for 300 of 1000 ms"
 * ticks, "X done" lines, the same probe failure over and over). `--verbose` shows everything.
 */

/** An agent progress line: `HH:MM:SS  NODE  [step] message`. */
const AGENT_LINE = /^\d\d:\d\d:\d\d {2}(\S+) {2}\[([^\]]+)\] (.*)$/;

const CHATTER = [/^fetching /, /^extracting/, /^snapshot of /, /^restore \//, /^all \d+ probes? healthy for \d+ of \d+ ms$/, /^\S+ done$/, /^release \S+ is already staged$/];

/** A filter function: the line to print, or undefined to drop it. Keeps state (repeats). */
export function makeProgressFilter(): (line: string) => string | undefined {
  let previous = "";
  return (line) => {
    const match = AGENT_LINE.exec(line);
    if (!match) return line;
    const [, node, step, message] = match;
    if (CHATTER.some((pattern) => pattern.test(message!))) return undefined;
    const key = `${node} ${step} ${message}`;
    if (key === previous) return undefined;
    previous = key;
    return line;
  };
}
