import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { z } from "zod";
import { HoistError } from "../errors/index.ts";

/** Lists every problem of a zod result as `path: message` lines. */
export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((issue) => `${issue.path.length ? issue.path.map(String).join(".") : "(root)"}: ${issue.message}`);
}

/** Validates `value` with `schema`; throws CONFIG_INVALID listing every problem by path. */
export function parseWithSchema<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = formatIssues(result.error.issues);
  throw new HoistError("CONFIG_INVALID", `${what} is invalid:\n  ${problems.join("\n  ")}`, { details: { problems } });
}

/** Reads a YAML (or JSON) file and validates it; errors name the file and every bad path. */
export async function loadYamlFile<S extends z.ZodType>(schema: S, path: string): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return parseWithSchema(schema, raw, path);
}
