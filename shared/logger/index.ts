import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  level?: string;
  /** Pretty output; defaults to true only when stderr is a TTY. */
  pretty?: boolean;
  destination?: DestinationStream;
}

/** Makes the root logger: JSON to stderr by default, pretty only on a TTY. Secrets are redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const redact = { paths: ["token", "*.token", "password", "*.password", "key", "*.key", "authorization"], censor: "[redacted]" };
  if (options.destination) return pino({ level, redact }, options.destination);
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, redact, transport: { target: "pino-pretty", options: { destination: 2, colorize: true } } });
  }
  return pino({ level, redact }, pino.destination(2));
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
