import { Option, type Command } from "commander";
import { checkDashboardAccess, parseListenAddress, type ListenAddress } from "../dashboard/listen-address.ts";

export interface HttpFlags {
  http?: string;
  httpToken?: string;
}

/** Where the dashboard listens and the token its controls need, as `startDashboard` takes them. */
export interface DashboardListen {
  listen: ListenAddress;
  token?: string;
}

/** Adds --http and --http-token: the live web dashboard (docs/dashboard.md). */
export function withHttpOptions(command: Command, what: string): Command {
  return command
    .addOption(new Option("--http <addr>", `${what} (HOST:PORT; :PORT is loopback; port 0 picks a free one)`).env("HOIST_HTTP"))
    .addOption(new Option("--http-token <token>", "bearer token the dashboard's pause/resume/abort/promote need; required on a non-loopback address (prefer the env variable: flags show in ps)").env("HOIST_HTTP_TOKEN"));
}

/**
 * The dashboard settings of the flags, checked before anything starts; undefined without --http.
 * @throws HoistError INVALID_ARGUMENT for a bad address, or a non-loopback one without a token.
 */
export function dashboardFromFlags(flags: HttpFlags): DashboardListen | undefined {
  return flags.http === undefined ? undefined : dashboardListen(flags.http, flags.httpToken);
}

/**
 * A dashboard address and token, checked.
 * @throws HoistError INVALID_ARGUMENT for a bad address, or a non-loopback one without a token.
 */
export function dashboardListen(http: string, token: string | undefined): DashboardListen {
  const listen = parseListenAddress(http);
  checkDashboardAccess(listen, token);
  return { listen, ...(token === undefined ? {} : { token }) };
}
