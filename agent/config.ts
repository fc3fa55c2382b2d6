import { isAbsolute, resolve, dirname } from "node:path";
import { z } from "zod";
import { loadYamlFile } from "../shared/config/index.ts";

const argv = z.array(z.string().min(1)).min(1, "must list the program and its arguments");

/** A hook: argv run without a shell in the active release dir (relative first element resolves there). */
export const hookSchema = z
  .object({
    run: argv,
    timeoutMs: z.number().int().positive().default(60_000),
  })
  .strict();

export const probeSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("http"), url: z.url(), expectStatus: z.number().int().default(200), timeoutMs: z.number().int().positive().default(2000) }).strict(),
  z.object({ type: z.literal("tcp"), host: z.string().default("127.0.0.1"), port: z.number().int().min(1).max(65535), timeoutMs: z.number().int().positive().default(2000) }).strict(),
  z.object({ type: z.literal("command"), run: argv, timeoutMs: z.number().int().positive().default(5000) }).strict(),
  z
    .object({
      type: z.literal("log"),
      /** Log file; a relative path resolves against the config file dir. */
      file: z.string().min(1),
      /** A line matching this means unhealthy (e.g. "FATAL"). */
      failPattern: z.string().optional(),
      /** Until a line matching this appears (after start), the probe is not healthy. */
      readyPattern: z.string().optional(),
    })
    .strict(),
]);

export const serviceSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lowercase letters, digits, _ and - only"),
    /** Holds releases/VERSION dirs and the `current` symlink. */
    installRoot: z.string().min(1),
    dataDirs: z.array(z.string().min(1)).min(1),
    /** Paths relative to a release dir carried from the old release into the new one (user config). */
    preserve: z.array(z.string().min(1)).default([]),
    /** Extra environment for hooks, probes and migrations (the rest of the agent's env is not passed). */
    env: z.record(z.string(), z.string()).default({}),
    hooks: z
      .object({
        start: hookSchema,
        stop: hookSchema,
        drain: hookSchema.optional(),
        rejoin: hookSchema.optional(),
      })
      .strict(),
    health: z
      .object({
        probes: z.array(probeSchema).min(1),
        minHealthyMs: z.number().int().nonnegative().default(2000),
        healthyDeadlineMs: z.number().int().positive().default(60_000),
        intervalMs: z.number().int().positive().default(250),
      })
      .strict(),
    snapshots: z
      .object({
        keep: z.number().int().positive().default(5),
        /** none: plain tar, the fastest stop window; gzip: smaller, several times slower. */
        compression: z.enum(["none", "gzip"]).default("none"),
      })
      .strict()
      .default({ keep: 5, compression: "none" }),
    releases: z.object({ keep: z.number().int().min(2).default(3) }).strict().default({ keep: 3 }),
    limits: z
      .object({
        maxArtifactBytes: z.number().int().positive().default(4 * 1024 ** 3),
        maxExtractedBytes: z.number().int().positive().default(16 * 1024 ** 3),
        maxEntries: z.number().int().positive().default(1_000_000),
      })
      .strict()
      .default({ maxArtifactBytes: 4 * 1024 ** 3, maxExtractedBytes: 16 * 1024 ** 3, maxEntries: 1_000_000 }),
  })
  .strict();

const grpcSchema = z
  .object({
    listen: z.string().default("127.0.0.1:7411"),
    /** Plaintext without auth: allowed only when listen is a loopback address. */
    insecure: z.boolean().default(false),
    tls: z
      .object({
        cert: z.string(),
        key: z.string(),
        /** CA for client certificates: set it to require mutual TLS. */
        clientCa: z.string().optional(),
        /** Allowed client identities (certificate CN or SAN); empty = any cert from clientCa. */
        allowClients: z.array(z.string()).default([]),
      })
      .strict()
      .optional(),
    /** Bearer token clients must send as `authorization: Bearer TOKEN`. */
    token: z.string().min(16, "use at least 16 characters").optional(),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    node: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only (it is a NATS subject token)"),
    cluster: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only (it is a NATS subject token)"),
    stateDir: z.string().min(1),
    /** Catalog file used by `hoist upgrade` to find artifacts and hops. */
    catalog: z.string().optional(),
    services: z.array(serviceSchema).min(1),
    grpc: grpcSchema.optional(),
    nats: z
      .object({
        servers: z.array(z.string()).min(1),
        token: z.string().optional(),
      })
      .strict()
      .optional(),
    /** Stop retrying an interrupted upgrade after this many agent restarts inside it. */
    maxResumeAttempts: z.number().int().positive().default(3),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    config.services.forEach((service, index) => {
      if (names.has(service.name)) ctx.addIssue({ code: "custom", path: ["services", index, "name"], message: `duplicate service name ${service.name}` });
      names.add(service.name);
    });
  });

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type HookConfig = z.output<typeof hookSchema>;
export type ProbeConfig = z.output<typeof probeSchema>;

/** Loads and validates an agent config; relative paths resolve against the file's dir. Frozen. */
export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  const config = await loadYamlFile(agentConfigSchema, path);
  return resolveAgentConfigPaths(config, dirname(resolve(path)));
}

/** Makes every path of the config absolute relative to `base`, then freezes it. */
export function resolveAgentConfigPaths(config: AgentConfig, base: string): AgentConfig {
  const abs = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  const resolved: AgentConfig = {
    ...config,
    stateDir: abs(config.stateDir),
    catalog: config.catalog === undefined ? undefined : abs(config.catalog),
    services: config.services.map((service) => ({
      ...service,
      installRoot: abs(service.installRoot),
      dataDirs: service.dataDirs.map(abs),
      health: {
        ...service.health,
        probes: service.health.probes.map((probe) => (probe.type === "log" ? { ...probe, file: abs(probe.file) } : probe)),
      },
    })),
  };
  return deepFreeze(resolved);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
