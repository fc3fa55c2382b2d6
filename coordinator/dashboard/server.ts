import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HoistError } from "../../shared/errors/index.ts";
import { retryBus, type RetryBusOptions } from "../../shared/bus/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import type { Bus } from "../bus/open-bus.ts";
import { requestControl } from "../rollout/controls.ts";
import type { ControlName } from "../rollout/fold.ts";
import { RolloutStore } from "../rollout/store.ts";
import { hasBearerToken, hasLoopbackHostHeader, isSameOriginControl } from "./auth.ts";
import { DashboardReader } from "./fleet-api.ts";
import { replyError, replyJson } from "./http-reply.ts";
import { checkDashboardAccess, dashboardUrl, isLoopbackHost, type ListenAddress } from "./listen-address.ts";
import { serveLiveStream } from "./live-stream.ts";
import { loadStaticAssets } from "./static-assets.ts";

export interface DashboardOptions {
  bus: Bus;
  listen: ListenAddress;
  /** Bearer token the controls need; required when `listen` is not loopback. */
  token?: string;
  logger: Logger;
  /** Nodes not seen for this long are flagged (default 15 s, as `hoist inventory`). */
  staleAfterMs?: number;
}

export interface RunningDashboard {
  url: string;
  stop(): Promise<void>;
}

const CONTROLS: readonly ControlName[] = ["pause", "resume", "abort", "promote"];
const CONTROL_PATH = /^\/api\/rollouts\/([^/]+)\/([^/]+)\/([a-z]+)$/;
/** How long a page's read or control waits out NATS trouble before it gets a 503. */
const RETRY: RetryBusOptions = { budgetMs: 5000, attemptTimeoutMs: 5000 };

/**
 * The live web dashboard (docs/dashboard.md): the page's static files, its JSON reads, the live
 * event stream and the rollout controls, on a plain node:http listener. Controls go through
 * `requestControl`, as the CLI's; when a token is set, they need `Authorization: Bearer TOKEN`.
 * @throws HoistError INVALID_ARGUMENT for a non-loopback address without a token; UNAVAILABLE when the address cannot be bound.
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  checkDashboardAccess(options.listen, options.token);
  const { bus, logger, token } = options;
  const loopback = isLoopbackHost(options.listen.host);
  const assets = await loadStaticAssets();
  const reader = new DashboardReader(bus, RETRY, options.staleAfterMs ?? 15_000, logger);
  const store = new RolloutStore(bus.buckets.rollouts);
  const streams = new Set<() => Promise<void>>();

  const control = async (request: IncomingMessage, response: ServerResponse, match: RegExpExecArray) => {
    if (!isSameOriginControl(request)) {
      return replyError(response, new HoistError("UNAUTHENTICATED", "controls are JSON POSTs from the dashboard's own page"));
    }
    if (token !== undefined && !hasBearerToken(request, token)) {
      return replyError(response, new HoistError("UNAUTHENTICATED", "this dashboard needs its token for controls: send Authorization: Bearer TOKEN (the page asks for it)"));
    }
    const [cluster, id, name] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!), match[3] as ControlName];
    if (!CONTROLS.includes(name)) return replyError(response, new HoistError("INVALID_ARGUMENT", `unknown control ${name}; use pause, resume, abort or promote`));
    const by = `dashboard ${request.socket.remoteAddress ?? "?"}`;
    const next = await retryBus(`recording ${name}`, () => requestControl(store, cluster, id, name, by), RETRY);
    logger.info({ cluster, rollout: id, control: name, by }, "dashboard: control recorded");
    replyJson(response, 200, { ok: true, id: next.id, phase: next.phase });
  };

  const route = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://dashboard").pathname;
    // A loopback listener answers only to loopback names: a rebinding DNS name cannot reach it.
    if (loopback && !hasLoopbackHostHeader(request)) {
      return replyError(response, new HoistError("UNAUTHENTICATED", "this dashboard listens on loopback; open it as 127.0.0.1 or localhost"));
    }
    if (request.method === "POST") {
      const match = CONTROL_PATH.exec(path);
      if (match) return control(request, response, match);
    } else if (request.method === "GET" || request.method === "HEAD") {
      if (path === "/api/config") return replyJson(response, 200, { tokenRequired: token !== undefined });
      if (path === "/api/fleet") return replyJson(response, 200, await reader.fleet());
      if (path === "/api/rollouts") return replyJson(response, 200, await reader.rollouts());
      if (path === "/api/events") return serveLiveStream(request, response, bus, logger, (close) => (streams.add(close), () => streams.delete(close)));
      const asset = assets.get(path);
      if (asset) {
        response.writeHead(200, { "content-type": asset.contentType, "cache-control": "no-cache", "content-length": asset.body.length, "x-content-type-options": "nosniff" });
        return void response.end(request.method === "HEAD" ? undefined : asset.body);
      }
    }
    replyError(response, new HoistError("NOT_FOUND", `no ${request.method} ${path} here; the dashboard is at /`));
  };

  const server: Server = createServer((request, response) => {
    route(request, response).catch((err: unknown) => {
      logger.warn({ err, url: request.url }, "dashboard: request failed");
      if (!response.headersSent) replyError(response, err);
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new HoistError("UNAVAILABLE", `the dashboard cannot listen on ${options.listen.host}:${options.listen.port}: ${err.message}`, { cause: err })));
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const url = dashboardUrl(options.listen.host, (server.address() as AddressInfo).port);
  logger.info({ url, token: token !== undefined }, "dashboard listening");

  return {
    url,
    async stop() {
      await Promise.all([...streams].map((close) => close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
