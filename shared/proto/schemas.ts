/**
 * zod schemas for the Agent service's request messages, checked inside each handler (the wire is an
 * edge: a decoded message has the right types but any values). A failure is INVALID_ARGUMENT.
 * Unknown keys (the loader's virtual oneof markers such as `_key`) are stripped.
 */
import * as z from "zod";
import { HoistError } from "../errors/index.ts";
import { serviceNameSchema as serviceName, upgradeRequestSchema as upgradeRequest, versionSchema as version } from "../wire/index.ts";

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

/** The upgrade request (shared/wire, the same as on NATS) with the optional cluster of a gRPC request; gRPC has no `release`. */
export const upgradeRequestSchema = upgradeRequest.omit({ release: true }).extend({ cluster });

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
