/** Where progress lines go: a stream, and whether it is a terminal (then lines update in place). */
export interface LineSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Live progress of several things at once (one per node, or one service), printed the way each
 * kind of output wants it:
 * - on a terminal, one line per key, updated in place (the block of live lines stays at the
 *   bottom; `print` puts a line above it);
 * - elsewhere (a pipe, a log file), one line each time a key enters a new phase (a step, or a
 *   new message within it); updates within a phase (percent, bytes) print nothing.
 */
export interface ProgressLines {
  /** Sets the live line of `key`; `phase` names what it is doing (counter-only updates keep it). */
  update(key: string, phase: string, line: string, plainLine?: string): void;
  /** A line that is not live progress (a rollout transition, a result). */
  print(line: string): void;
  /** Ends live updating: the last state of every key stays on screen. */
  done(): void;
}

/** Builds ProgressLines on `sink` (a terminal when `sink.isTTY`). */
export function createProgressLines(sink: LineSink): ProgressLines {
  return sink.isTTY === true ? terminalLines(sink) : plainLines(sink);
}

function plainLines(sink: LineSink): ProgressLines {
  const phases = new Map<string, string>();
  return {
    update(key, phase, line, plainLine) {
      if (phases.get(key) === phase) return;
      phases.set(key, phase);
      sink.write(`${plainLine ?? line}\n`);
    },
    print(line) {
      sink.write(`${line}\n`);
    },
    done() {
      phases.clear();
    },
  };
}

function terminalLines(sink: LineSink): ProgressLines {
  const lines = new Map<string, string>();
  let drawn = 0;
  const fit = (line: string) => {
    const width = (sink.columns ?? 80) - 1;
    return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
  };
  const erase = () => {
    if (drawn > 0) sink.write(`\x1b[${drawn}A\r\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    for (const line of lines.values()) sink.write(`${fit(line)}\n`);
    drawn = lines.size;
  };
  return {
    update(key, _phase, line) {
      if (lines.get(key) === line) return;
      lines.set(key, line);
      erase();
      draw();
    },
    print(line) {
      erase();
      sink.write(`${line}\n`);
      draw();
    },
    done() {
      drawn = 0;
      lines.clear();
    },
  };
}
