import * as z from "zod";
import { ERROR_CODES, HoistError, toHoistError, type ErrorCode } from "../errors/index.ts";
import { formatIssues } from "../config/index.ts";
import { artifactSchema, serviceNameSchema, upgradeRequestSchema, versionSchema } from "../wire/index.ts";

/** Every command names its cluster (refused by an agent of another cluster) and carries an idempotency key. */
export const commandEnvelopeSchema = z.object({
  cluster: z.string().min(1),
  key: z.string().min(1).max(512).optional(),
});

/**
 * What bounds a command on the agent, beside its envelope: `deadlineMs`, the time left until the
 * step's deadline when the coordinator sent it. Relative, so the agent's clock need not agree with
 * the coordinator's; the agent counts it from when the command arrived.
 */
export const commandBoundsSchema = z.object({ deadlineMs: z.number().int().positive().optional() });

/** The upgrade request (upgradeRequestSchema, shared/wire: the same as on gRPC) in the bus envelope. */
export const upgradeCommandSchema = upgradeRequestSchema.extend(commandEnvelopeSchema.shape);

export const serviceCommandSchema = commandEnvelopeSchema.extend({ service: serviceNameSchema });
/** Rollback: `to` makes it conditional: a node already on `to` with nothing pending answers at once. */
export const rollbackCommandSchema = serviceCommandSchema.extend({ to: versionSchema.optional() });
export const stageCommandSchema = serviceCommandSchema.extend({ version: versionSchema, artifact: artifactSchema.optional() });

export type UpgradeCommand = z.output<typeof upgradeCommandSchema>;
export type ServiceCommand = z.output<typeof serviceCommandSchema>;
export type StageCommand = z.output<typeof stageCommandSchema>;

export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export type Reply<T> = { ok: true; result: T } | { ok: false; error: WireError };

/** Validates a wire message; INVALID_ARGUMENT naming every bad field. */
export function parseMessage<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HoistError("INVALID_ARGUMENT", `bad message: ${formatIssues(result.error.issues).join("; ")}`);
}

export function okReply<T>(result: T): Reply<T> {
  return { ok: true, result };
}

export function errorReply(err: unknown): Reply<never> {
  const error = toHoistError(err);
  return { ok: false, error: { code: error.code, message: error.message, retryable: error.retryable } };
}

/** Turns a reply back into its result, or throws the HoistError it carries. */
export function unwrapReply<T>(reply: Reply<T>): T {
  if (reply.ok) return reply.result;
  const code: ErrorCode = reply.error.code in ERROR_CODES ? reply.error.code : "INTERNAL";
  throw new HoistError(code, reply.error.message, { retryable: reply.error.retryable });
}
