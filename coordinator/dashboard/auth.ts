import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isLoopbackHost } from "./listen-address.ts";

/** True when the request carries `Authorization: Bearer TOKEN` (compared in constant time). */
export function hasBearerToken(request: IncomingMessage, token: string): boolean {
  const header = request.headers.authorization ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  // Equal-length digests, so timingSafeEqual neither throws nor leaks the token's length.
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(match[1]!.trim()), digest(token));
}

/**
 * True when the request names a loopback host (127.0.0.1, localhost, [::1]). A loopback listener
 * answers only such requests, so a web page under a rebinding DNS name cannot read or steer it.
 */
export function hasLoopbackHostHeader(request: IncomingMessage): boolean {
  const host = (request.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return isLoopbackHost(host);
}

/**
 * Guards against other web sites steering rollouts through the operator's browser: a control must
 * be a JSON POST (which a foreign page cannot send without a CORS preflight this server never
 * answers) and, when the browser names its origin, come from the page's own origin.
 */
export function isSameOriginControl(request: IncomingMessage): boolean {
  if (!(request.headers["content-type"] ?? "").startsWith("application/json")) return false;
  const host = request.headers.host ?? "";
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
