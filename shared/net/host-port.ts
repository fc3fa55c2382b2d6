/** A listen address: a host (name or IP, IPv6 without brackets; empty when the value was `:PORT`) and a port (0: any free one). */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Splits `HOST:PORT`, `[IPV6]:PORT` or `:PORT`; undefined when `value` is none of these or the
 * port is above 65535. Pure: each caller turns undefined into its own error, naming its flag or key.
 */
export function splitHostPort(value: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  return { host: match[1] ?? match[2] ?? "", port };
}
