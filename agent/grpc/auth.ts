/**
 * Security of the agent's gRPC port. Modes, chosen from the grpc config:
 * - TLS: `tls.cert` + `tls.key`. Any listen address.
 * - mutual TLS: TLS plus `tls.clientCa`; clients must present a certificate signed by it (checked
 *   in the handshake, so a client without one never gets a call through: the client sees
 *   UNAVAILABLE). `tls.allowClients` further limits callers to certificates whose CN or a SAN DNS
 *   name is listed (else PERMISSION_DENIED).
 * - token: `token` set; every call must carry `authorization: Bearer TOKEN` (else UNAUTHENTICATED).
 *   Combines with TLS and mutual TLS. Without TLS only on a loopback address (a token sent in
 *   plaintext over a network can be read by anyone on the path).
 * - insecure: plaintext without auth; only with `insecure: true` and a loopback listen address.
 * Any other combination refuses to start with CONFIG_INVALID saying what to set.
 * The checks apply to every service on the port: Agent, reflection and health (a health answer
 * reveals what runs on the node, and the coordinator, the one health client, has the credentials).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIPv4, isIPv6 } from "node:net";
import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { AgentConfig } from "../config.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";
import { toGrpcStatus } from "./errors.ts";

/** The `grpc` section of the agent config (defaults filled in). */
export type AgentGrpcConfig = NonNullable<AgentConfig["grpc"]>;

export type SecurityMode = "insecure" | "token" | "tls" | "tls+token" | "mtls" | "mtls+token";

/** What the server needs to listen securely. */
export interface GrpcSecurity {
  mode: SecurityMode;
  credentials: grpc.ServerCredentials;
  /** Checks token and client identity on every call; undefined when there is nothing to check. */
  interceptor?: grpc.ServerInterceptor;
}

/**
 * True for addresses only this host can reach: 127.0.0.0/8, ::1, localhost, and unix sockets.
 * `listen` is a grpc-js bind address: HOST:PORT, [IPv6]:PORT or unix:PATH.
 */
export function isLoopbackListen(listen: string): boolean {
  if (listen.startsWith("unix:") || listen.startsWith("unix-abstract:")) return true;
  const host = listenHost(listen).toLowerCase();
  if (host === "localhost") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  if (isIPv6(host)) return host === "::1" || /^::ffff:127\./.test(host);
  return false;
}

function listenHost(listen: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(listen);
  if (bracketed) return bracketed[1]!;
  const colon = listen.lastIndexOf(":");
  return colon === -1 ? listen : listen.slice(0, colon);
}

/**
 * Checks the grpc config and reads the PEM files. Throws CONFIG_INVALID naming the settings to
 * change when the combination is not allowed or a file cannot be read.
 */
export async function resolveGrpcSecurity(config: AgentGrpcConfig, logger: Logger): Promise<GrpcSecurity> {
  const loopback = isLoopbackListen(config.listen);
  const token = config.token;
  if (config.tls) {
    if (config.insecure) {
      throw new HoistError("CONFIG_INVALID", "grpc.insecure and grpc.tls are both set: remove grpc.insecure to serve TLS", {
        details: { path: "grpc.insecure" },
      });
    }
    const [cert, key, clientCa] = await Promise.all([
      readPem(config.tls.cert, "grpc.tls.cert"),
      readPem(config.tls.key, "grpc.tls.key"),
      config.tls.clientCa === undefined ? undefined : readPem(config.tls.clientCa, "grpc.tls.clientCa"),
    ]);
    if (!clientCa && config.tls.allowClients.length > 0) {
      throw new HoistError("CONFIG_INVALID", "grpc.tls.allowClients needs grpc.tls.clientCa: set the CA that signs client certificates", {
        details: { path: "grpc.tls.allowClients" },
      });
    }
    const credentials = grpc.ServerCredentials.createSsl(clientCa ?? null, [{ cert_chain: cert, private_key: key }], clientCa !== undefined);
    const base = clientCa ? "mtls" : "tls";
    const allowClients = clientCa ? config.tls.allowClients : [];
    return {
      mode: token ? (`${base}+token` as const) : base,
      credentials,
      interceptor: createAuthInterceptor({ token, allowClients }, logger),
    };
  }
  if (!loopback) {
    throw new HoistError(
      "CONFIG_INVALID",
      `grpc.listen ${config.listen} is reachable from other hosts, so the agent serves it only with TLS: ` + "set grpc.tls.cert and grpc.tls.key (and grpc.tls.clientCa for mutual TLS), or listen on 127.0.0.1",
      { details: { path: "grpc.listen", listen: config.listen } },
    );
  }
  if (token) {
    return { mode: "token", credentials: grpc.ServerCredentials.createInsecure(), interceptor: createAuthInterceptor({ token, allowClients: [] }, logger) };
  }
  if (!config.insecure) {
    throw new HoistError(
      "CONFIG_INVALID",
      "grpc has no security configured: set grpc.tls (cert and key), or grpc.token (at least 16 characters), " + "or grpc.insecure: true to serve plaintext without auth on this loopback address",
      { details: { path: "grpc" } },
    );
  }
  return { mode: "insecure", credentials: grpc.ServerCredentials.createInsecure() };
}

async function readPem(path: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `cannot read ${setting} ${path}: ${(err as Error).message}`, {
      details: { path: setting },
      cause: err,
    });
  }
}

/** Who may call: the token they must send, and the client certificate names allowed (empty = any). */
export interface AuthPolicy {
  token?: string;
  allowClients: readonly string[];
}

/**
 * A server interceptor enforcing the policy before any handler sees the call:
 * UNAUTHENTICATED without a valid bearer token, PERMISSION_DENIED for a client certificate not
 * in allowClients. Returns undefined when the policy checks nothing.
 */
export function createAuthInterceptor(policy: AuthPolicy, logger: Logger): grpc.ServerInterceptor | undefined {
  const expected = policy.token === undefined ? undefined : digest(policy.token);
  const allowed = new Set(policy.allowClients.map((name) => name.toLowerCase()));
  if (!expected && allowed.size === 0) return undefined;
  return (method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const refusal = checkCall(metadata, call.getAuthContext().sslPeerCertificate, expected, allowed);
        if (!refusal) {
          next(metadata);
          return;
        }
        logger.warn({ method: method.path, peer: call.getPeer(), reason: refusal.reason }, "gRPC call refused");
        call.sendStatus(toGrpcStatus(refusal.error, { overrideStatus: refusal.status }));
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

interface Refusal {
  status: grpc.status;
  error: HoistError;
  reason: string;
}

function checkCall(metadata: grpc.Metadata, certificate: PeerCertificate | undefined, expectedToken: Buffer | undefined, allowed: ReadonlySet<string>): Refusal | undefined {
  if (expectedToken) {
    const header = String(metadata.get("authorization")[0] ?? "");
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match) {
      return {
        status: grpc.status.UNAUTHENTICATED,
        reason: "no bearer token",
        error: new HoistError("UNAUTHENTICATED", "this agent requires a bearer token: send metadata `authorization: Bearer TOKEN` with the agent's grpc.token"),
      };
    }
    if (!timingSafeEqual(digest(match[1]!), expectedToken)) {
      return {
        status: grpc.status.UNAUTHENTICATED,
        reason: "wrong bearer token",
        error: new HoistError("UNAUTHENTICATED", "the bearer token does not match this agent's grpc.token"),
      };
    }
  }
  if (allowed.size > 0) {
    const names = certificateNames(certificate);
    if (!names.some((name) => allowed.has(name.toLowerCase()))) {
      const shown = names.length > 0 ? names.join(", ") : "(no certificate)";
      return {
        status: grpc.status.PERMISSION_DENIED,
        reason: `client ${shown} not in allowClients`,
        error: new HoistError("UNAUTHENTICATED", `client certificate ${shown} is not allowed: add its CN or DNS name to the agent's grpc.tls.allowClients`, {
          details: { client: names },
        }),
      };
    }
  }
  return undefined;
}

/** Fixed-length digests, so timingSafeEqual compares in constant time whatever the lengths. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** The certificate's subject CN(s) and SAN DNS names. */
export function certificateNames(certificate: PeerCertificate | undefined): string[] {
  if (!certificate) return [];
  const names: string[] = [];
  const cn: unknown = certificate.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn.filter((value): value is string => typeof value === "string"));
  for (const entry of (certificate.subjectaltname ?? "").split(",")) {
    const trimmed = entry.trim();
    if (trimmed.startsWith("DNS:")) names.push(trimmed.slice(4));
  }
  return names;
}
