import { isIP } from "node:net";
import { HoistError } from "../../shared/errors/index.ts";
import { splitHostPort, type HostPort } from "../../shared/net/index.ts";

/** Where the dashboard listens: a host (name or IP, no brackets) and a port (0: a free one). */
export type ListenAddress = HostPort;

/**
 * Parses `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (loopback) as given to `--http`.
 * @throws HoistError INVALID_ARGUMENT naming the flag and the expected form.
 */
export function parseListenAddress(value: string): ListenAddress {
  const address = splitHostPort(value);
  if (!address) throw new HoistError("INVALID_ARGUMENT", `--http must be HOST:PORT (127.0.0.1:8080, [::1]:8080, :8080 for loopback), got ${JSON.stringify(value)}`);
  return { host: address.host === "" ? "127.0.0.1" : address.host, port: address.port };
}

/** True when only this machine can reach `host`: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase();
  if (bare === "localhost" || bare === "::1") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare.startsWith("::ffff:127.");
}

/**
 * The dashboard's access rule, checked before anything starts: a listener other machines can reach
 * needs a bearer token, since its buttons steer rollouts.
 * @throws HoistError INVALID_ARGUMENT when `address` is not loopback and no token is set.
 */
export function checkDashboardAccess(address: ListenAddress, token: string | undefined): void {
  if (token !== undefined && token.length === 0) throw new HoistError("INVALID_ARGUMENT", "--http-token is empty; give a long random token or leave it out on a loopback address");
  if (!isLoopbackHost(address.host) && token === undefined) {
    throw new HoistError("INVALID_ARGUMENT", `the dashboard would listen on ${address.host}, which other machines can reach, without a token; set --http-token (or HOIST_HTTP_TOKEN), or listen on 127.0.0.1`);
  }
}

/** The URL a browser opens for a listener bound to `host` and `port`. */
export function dashboardUrl(host: string, port: number): string {
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${isIP(shown) === 6 ? `[${shown}]` : shown}:${port}/`;
}
