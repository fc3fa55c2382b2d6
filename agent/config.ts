import { isAbsolute, resolve, dirname } from "node:path";
import * as z from "zod";
import { loadYamlFile } from "../shared/config/index.ts";
import { serviceNameSchema } from "../shared/wire/index.ts";

/** Where the agent serves metrics when `metrics:` gives no listen address (gRPC is 7411). */
export const DEFAULT_AGENT_METRICS_LISTEN = "127.0.0.1:7412";

const argv = z.array(z.string().min(1)).min(1, "must list the program and its arguments");

/** A system user to run a hook as (root only can switch): a name from /etc/passwd or a numeric uid. */
/** A name that becomes a file name (backups, database dumps). */
const fileNameToken = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "lowercase letters, digits, _ . and - only (it names a file)");
/** A node or cluster id: one NATS subject token. */
const subjectToken = z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only (it is a NATS subject token)");

const userName = z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/, "a user name or numeric uid");

/** A hook: argv run without a shell in the active release dir (relative first element resolves there). */
export const hookSchema = z
  .object({
    run: argv,
    timeoutMs: z.number().int().positive().default(60_000),
    /** Run as this user (its uid, primary gid, HOME and USER) instead of the service's `user` or the agent's. */
    user: userName.optional(),
  })
  .strict();

/**
 * When a probe is checked:
 * - verify: after start (and in rb-verify), and after a failed drain to tell whether the service is down;
 * - afterRejoin: after the rejoin hook (cluster membership), before commit;
 * - monitor: by the agent's permanent health monitor (what gRPC health and the coordinator's gate see);
 * - preflight: before an upgrade of a running service starts; it is refused when one fails.
 */
export const PROBE_PHASES = ["verify", "afterRejoin", "monitor", "preflight"] as const;
export type ProbePhase = (typeof PROBE_PHASES)[number];
/** Left out: ["verify", "monitor"] (see `probesFor`). */
const phases = z.array(z.enum(PROBE_PHASES)).min(1).optional();
const DEFAULT_PHASES: readonly ProbePhase[] = ["verify", "monitor"];

export const probeSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("http"), url: z.url(), expectStatus: z.number().int().default(200), timeoutMs: z.number().int().positive().default(2000), phases }).strict(),
  z.object({ type: z.literal("tcp"), host: z.string().default("127.0.0.1"), port: z.number().int().min(1).max(65535), timeoutMs: z.number().int().positive().default(2000), phases }).strict(),
  z.object({ type: z.literal("command"), run: argv, timeoutMs: z.number().int().positive().default(5000), phases }).strict(),
  z
    .object({
      type: z.literal("log"),
      phases,
      /** Log file; a relative path resolves against the config file dir. */
      file: z.string().min(1),
      /** A line matching this means unhealthy (e.g. "FATAL"). */
      failPattern: z.string().optional(),
      /** Until a line matching this appears (after start), the probe is not healthy. */
      readyPattern: z.string().optional(),
    })
    .strict(),
]);

/**
 * A database a service keeps its data in. Connect over `socket` (a dir for PostgreSQL, the socket
 * file for MariaDB) or `host`/`port`; the password, if any, is read from `passwordFile` at each use
 * and handed to the tools through a 0600 file (PGPASSFILE, --defaults-extra-file), never in argv or logs.
 */
export const databaseSchema = z
  .object({
    /** Names the dump inside the snapshot (backups/db-NAME.dump). */
    name: fileNameToken,
    engine: z.enum(["postgresql", "mariadb", "mysql"]),
    /** The database's name on the server. */
    database: z.string().min(1),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    socket: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** For `pg_restore --create` / `DROP DATABASE`: the database to connect to while the dumped one is recreated. */
    maintenanceDatabase: z.string().min(1).optional(),
    timeoutMs: z.number().int().positive().default(3_600_000),
  })
  .strict()
  .refine((db) => !(db.socket && db.host), { message: "give either socket or host, not both" });

export const serviceSchema = z
  .object({
    name: serviceNameSchema,
    /** Holds releases/VERSION dirs and the `current` symlink. */
    installRoot: z.string().min(1),
    dataDirs: z.array(z.string().min(1)).min(1),
    /** Paths relative to a release dir carried from the old release into the new one (user config). */
    preserve: z.array(z.string().min(1)).default([]),
    /**
     * Validate before touching production data (Alfresco's step 2: upgrade a copy of the repository
     * first): before the drain, the new release is started on scratch data (empty, or a copy of the
     * data dirs with the hops' node-scope migrations run on it) with `env` on top of the service's
     * (another port, run dir), its `probes` must hold, then it is stopped and the scratch data
     * removed. A failure aborts the upgrade with production untouched.
     */
    validate: z
      .object({
        data: z.enum(["empty", "clone"]).default("clone"),
        /** Overrides for the scratch instance: another port, another run/pid dir. */
        env: z.record(z.string(), z.string()).default({}),
        /** Probes against the scratch instance (its port, its log). */
        probes: z.array(probeSchema).min(1),
        minHealthyMs: z.number().int().nonnegative().default(2000),
        healthyDeadlineMs: z.number().int().positive().default(60_000),
      })
      .strict()
      .optional(),
    /**
     * Data dirs that live inside the release dir (Alfresco's `dir.root=/alfresco-v.2/alf_data`,
     * ejabberd's database/), carried from the old release into the new one at the switch: `copy`
     * (verified file by file; the old release keeps its copy for a rollback) or `move` (instant,
     * same filesystem; the upgrade's snapshot holds it for a rollback).
     */
    releaseData: z
      .array(
        z
          .object({
            /** Relative to the release dir. */
            path: z.string().min(1),
            mode: z.enum(["copy", "move"]).default("copy"),
          })
          .strict(),
      )
      .default([]),
    /** Extra environment for hooks, probes and migrations (the rest of the agent's env is not passed). */
    env: z.record(z.string(), z.string()).default({}),
    /** Run every hook, migration, command probe and backup as this user (e.g. `ejabberd`); a hook's own `user` wins. */
    user: userName.optional(),
    hooks: z
      .object({
        start: hookSchema,
        stop: hookSchema,
        drain: hookSchema.optional(),
        rejoin: hookSchema.optional(),
        /** Load changed code into the running service (ejabberdctl update all): a patch hop runs it instead of stop and start. */
        reload: hookSchema.optional(),
      })
      .strict(),
    health: z
      .object({
        probes: z.array(probeSchema).min(1),
        minHealthyMs: z.number().int().nonnegative().default(2000),
        healthyDeadlineMs: z.number().int().positive().default(60_000),
        intervalMs: z.number().int().positive().default(250),
        /** How often the permanent monitor checks the `monitor` probes (default: intervalMs, at least 500). */
        monitorIntervalMs: z.number().int().positive().optional(),
      })
      .strict(),
    /**
     * Backups of a running service taken with the snapshot, by its own tools (`ejabberdctl backup`,
     * `pg_dump`): each runs while the service is still up, writes the file named by `{file}` in its argv
     * (also $HOIST_BACKUP_FILE), is kept with sha256 inside the snapshot and verified with it; on
     * rollback its `restore` runs (with the service stopped, or once it runs again: `restoreWhen`).
     */
    backups: z
      .array(
        z
          .object({
            name: fileNameToken,
            run: argv,
            restore: argv.optional(),
            restoreWhen: z.enum(["running", "stopped"]).default("running"),
            timeoutMs: z.number().int().positive().default(600_000),
            user: userName.optional(),
          })
          .strict(),
      )
      .default([]),
    /**
     * Databases of the service, dumped into the snapshot with the engine's own tools (PostgreSQL
     * `pg_dump -Fc`, MariaDB/MySQL `mariadb-dump --single-transaction`), kept with sha256 and a row
     * count per table beside the backups, checked readable before the upgrade goes on, and restored
     * (dropped and recreated from the dump) on rollback with the service stopped.
     */
    databases: z.array(databaseSchema).default([]),
    snapshots: z
      .object({
        keep: z.number().int().positive().default(5),
        /** none: plain tar, the fastest stop window; gzip: smaller, several times slower. */
        compression: z.enum(["none", "gzip"]).default("none"),
        /**
         * When the snapshot (and the backups) are taken: `stop` (default: data at rest, after drain and
         * stop) or `drain` (before the drain hook, with the service still up: for drains that destroy
         * local data, like ejabberd's leave_cluster).
         */
        before: z.enum(["stop", "drain"]).default("stop"),
        /**
         * With `before: stop` and plain tar: copy the data dirs while the service still runs (before
         * the drain), and after the stop take only what changed since (docs/snapshots.md). false: one
         * full snapshot after the stop.
         */
        twoPhase: z.boolean().default(true),
      })
      .strict()
      .default({ keep: 5, compression: "none", before: "stop", twoPhase: true }),
    releases: z
      .object({ keep: z.number().int().min(2).default(3) })
      .strict()
      .default({ keep: 3 }),
    limits: z
      .object({
        maxArtifactBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 ** 3),
        maxExtractedBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 ** 3),
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

/** The Prometheus listener (docs/metrics.md); off unless the section is there. */
const metricsSchema = z
  .object({
    /** HOST:PORT; loopback by default. Unauthenticated: open it to the network only behind a firewall. */
    listen: z.string().min(1).default(DEFAULT_AGENT_METRICS_LISTEN),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    node: subjectToken,
    cluster: subjectToken,
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
    metrics: metricsSchema.optional(),
    /** Labels of this node (ring: canary, site: a): what unattended waves select by. */
    labels: z.record(z.string(), z.string()).default({}),
    /** Unattended rollouts (docs/unattended.md): the agent upgrades its services itself from the desired state in KV. */
    unattended: z
      .object({
        enabled: z.boolean().default(true),
        /** Services that follow a desired state (default: every managed service). */
        services: z.array(serviceNameSchema).optional(),
        /** Safety-net poll of the desired state (a push normally arrives first), jittered by up to 20%. */
        pollIntervalMs: z.number().int().positive().default(300_000),
        /** How often a slot holder heartbeats its slot and a node refreshes its report. */
        heartbeatMs: z.number().int().positive().default(5000),
        /** ed25519 public keys (PEM files): when set, unsigned or wrongly signed desired states and catalogs are refused. */
        publicKeys: z.array(z.string().min(1)).default([]),
        /** First back-off after an environment failure (fetch, disk); doubles up to maxBackoffMs. */
        backoffMs: z.number().int().positive().default(30_000),
        maxBackoffMs: z.number().int().positive().default(1_800_000),
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
      if (probesFor(service, "verify").length === 0) {
        ctx.addIssue({ code: "custom", path: ["services", index, "health", "probes"], message: "no probe serves the verify phase: an upgrade could not be verified (tag at least one probe with phases: [verify, ...])" });
      }
      const backupNames = new Set<string>();
      service.backups.forEach((backup, backupIndex) => {
        if (backupNames.has(backup.name)) ctx.addIssue({ code: "custom", path: ["services", index, "backups", backupIndex, "name"], message: `duplicate backup name ${backup.name}` });
        backupNames.add(backup.name);
      });
      const dumpNames = new Set(service.backups.map((backup) => backup.name));
      service.databases.forEach((database, databaseIndex) => {
        if (dumpNames.has(`db-${database.name}.dump`) || service.databases.findIndex((other) => other.name === database.name) !== databaseIndex) {
          ctx.addIssue({ code: "custom", path: ["services", index, "databases", databaseIndex, "name"], message: `duplicate database name ${database.name}` });
        }
      });
      if (names.has(service.name)) ctx.addIssue({ code: "custom", path: ["services", index, "name"], message: `duplicate service name ${service.name}` });
      names.add(service.name);
    });
  });

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type HookConfig = z.output<typeof hookSchema>;
export type ProbeConfig = z.output<typeof probeSchema>;
export type DatabaseConfig = z.output<typeof databaseSchema>;

/** The service's probes checked in `phase` (probes without `phases` serve verify and monitor). */
export function probesFor(service: ServiceConfig, phase: ProbePhase): ProbeConfig[] {
  return service.health.probes.filter((probe) => (probe.phases ?? DEFAULT_PHASES).includes(phase));
}

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
    ...(config.unattended ? { unattended: { ...config.unattended, publicKeys: config.unattended.publicKeys.map(abs) } } : {}),
    services: config.services.map((service) => ({
      ...service,
      installRoot: abs(service.installRoot),
      dataDirs: service.dataDirs.map(abs),
      databases: service.databases.map((database) => ({
        ...database,
        ...(database.passwordFile === undefined ? {} : { passwordFile: abs(database.passwordFile) }),
        ...(database.socket === undefined ? {} : { socket: abs(database.socket) }),
      })),
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
