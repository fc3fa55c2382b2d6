/**
 * zod schemas for the Agent service's request messages, checked inside each handler (the wire is an
 * edge: a decoded message has the right types but any values). A failure is INVALID_ARGUMENT.
 * Unknown keys (the loader's virtual oneof markers such as `_key`) are stripped.
 */
import { z } from "zod";
import { HoistError } from "../errors/index.ts";

/** Same rule as a service name in the agent config. */
const serviceName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "must name a managed service (lowercase letters, digits, _ and -)");
/** Same characters as a catalog version; it becomes a directory name, so no separators or "..". */
const version = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "must be a version such as 1.2.3 (letters, digits, . _ + -)");
/** Snapshot ids become file names: no path separators, NUL, "." or "..". */
const snapshotId = z
  .string()
  .min(1, "must not be empty")
  .max(200)
  .refine((id) => !/[/\\\0]/.test(id) && id !== "." && id !== "..", "must be a snapshot id from ListSnapshots");
const cluster = z.string().min(1).optional();
const key = z.string().min(1).max(512).optional();

export const listSnapshotsRequestSchema = z.object({ service: serviceName });

export const stageRequestSchema = z.object({ service: serviceName, version, cluster });

export const snapshotRequestSchema = z.object({ service: serviceName, label: z.string().max(200).optional(), cluster });

export const restoreRequestSchema = z.object({ service: serviceName, snapshotId, cluster });

export const upgradeRequestSchema = z.object({
  service: serviceName,
  to: version,
  allowDowngrade: z.boolean(),
  key,
  skipDrain: z.boolean(),
  artifact: z
    .object({
      url: z.string().regex(/^(file|https?):\/\/\S+$/, "must be a file://, http:// or https:// URL"),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
      size: z.number().int().positive().optional(),
    })
    .nullish()
    .transform((artifact) => artifact ?? undefined),
  cluster,
});

export const rollbackRequestSchema = z.object({ service: serviceName, key, cluster });

export const drainRequestSchema = z.object({ service: serviceName, cluster });

export const rejoinRequestSchema = z.object({ service: serviceName, cluster });

/**
 * Parses a decoded request message. Throws INVALID_ARGUMENT listing every problem by field,
 * e.g. `invalid UpgradeRequest: to: must be a version such as 1.2.3`.
 */
export function parseRequest<S extends z.ZodType>(schema: S, message: unknown, name: string): z.output<S> {
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(message)"}: ${issue.message}`);
  throw new HoistError("INVALID_ARGUMENT", `invalid ${name}: ${problems.join("; ")}`, { details: { problems } });
}
