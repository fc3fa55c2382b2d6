import { isAbsolute } from "node:path";
import * as z from "zod";

/**
 * The shapes that cross an edge between Hoist's parts — NATS messages, gRPC requests, KV records,
 * the catalog file — each defined once; the TypeScript types are derived from them. Edges refine a
 * shape where they know more (the catalog allows a relative artifact path before it is resolved),
 * they do not write it again.
 */

/** A sha256 as lowercase hex. */
export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");

/**
 * A version usable as one path segment of releases/: starts with a letter or digit, then letters,
 * digits, `.`, `_`, `+`, `-`, at most 128 characters. Named as the product names it (1.5.1, 23.01,
 * 5.2.7.1); ordered only by the catalog.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
export const versionSchema = z
  .string()
  .regex(VERSION_PATTERN, "must be a version such as 1.2.3 (letters, digits, . _ + -)")
  .refine((version) => !version.endsWith(".partial"), "must not end in .partial (the name of a release being staged)");

/** A managed service's name, as the agent config defines its services. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
export const serviceNameSchema = z.string().regex(SERVICE_NAME_PATTERN, "must name a managed service (lowercase letters, digits, _ and -)");

/**
 * Where an agent fetches a release from: an http(s) or file: URL, an absolute path, or
 * `nats-object:SHA256` (the JetStream object store `hoist release push` filled; docs/unattended.md).
 */
export const artifactUrlSchema = z
  .string()
  .min(1)
  .refine((url) => /^(file:|https?:\/\/)\S+$/.test(url) || /^nats-object:[0-9a-f]{64}$/.test(url) || isAbsolute(url), "must be a file://, http:// or https:// URL, nats-object:SHA256 or an absolute path");

/** A release archive: where it is, its sha256, and optionally its size in bytes. */
export const artifactSchema = z.object({
  url: artifactUrlSchema,
  sha256: sha256Schema,
  size: z.number().int().nonnegative().optional(),
});
export type Artifact = z.output<typeof artifactSchema>;

/** One migration of a hop: argv run in the new release's dir, without a shell. */
export const migrationSchema = z.object({
  name: z.string().min(1),
  /** argv, first element relative to the new release dir or absolute. */
  run: z.array(z.string().min(1)).min(1),
  /** `node`: every node runs it; `cluster-once`: the first node runs it under a cluster lock. */
  scope: z.enum(["node", "cluster-once"]).default("node"),
  timeoutMs: z.number().int().positive().default(300_000),
  /**
   * The migration cannot be undone by the old release (CockroachDB's point of no return): until
   * `hoist finalize`, the release before it and its snapshot are kept so that rollback works; after
   * it, rollback to before this release is refused.
   */
  permanent: z.boolean().optional(),
  /**
   * When it runs: `after-switch` (default: with the service stopped, after `current` points at the new
   * release) or `before-stop` (an online migration, ejabberd's "apply the required changes in database"
   * before stopping: against the old release while it still runs, so it must be compatible with it).
   */
  when: z.enum(["after-switch", "before-stop"]).optional(),
});
export type Migration = z.output<typeof migrationSchema>;

/** The hop as the coordinator's catalog has it: the agent runs exactly this instead of planning its own. */
export const hopReleaseSchema = z.object({
  from: versionSchema,
  artifact: artifactSchema,
  migrations: z.array(migrationSchema),
});
export type HopRelease = z.output<typeof hopReleaseSchema>;

/**
 * An upgrade request, the same on NATS (`cmd.upgrade`) and gRPC (`Agent/Upgrade`); each transport
 * adds its envelope (the cluster). Unset optional messages arrive from gRPC as null.
 */
export const upgradeRequestSchema = z.object({
  service: serviceNameSchema,
  to: versionSchema,
  allowDowngrade: z.boolean().default(false),
  /** Idempotency key: a repeat with the same key returns the recorded outcome. */
  key: z.string().min(1).max(512).optional(),
  /** Skip drain/rejoin hooks (the coordinator runs them as separate steps). */
  skipDrain: z.boolean().default(false),
  /** Artifact given directly instead of looked up in the catalog (single direct hop, no migrations). */
  artifact: artifactSchema.nullish().transform((artifact) => artifact ?? undefined),
  /** One hop given whole by the coordinator (from its catalog): the agent runs exactly it, and refuses when it does not run `from`. */
  release: hopReleaseSchema.optional(),
});
type ParsedUpgradeRequest = z.output<typeof upgradeRequestSchema>;
/** An upgrade request as the agent's API takes it: the parsed shape, flags defaulting to false. */
export type UpgradeRequest = Omit<ParsedUpgradeRequest, "allowDowngrade" | "skipDrain" | "artifact"> & Partial<Pick<ParsedUpgradeRequest, "allowDowngrade" | "skipDrain">> & { artifact?: Artifact };
