import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";

/** The repository root (scripts/demo/../..). */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

/** The demo's config files (agent-n1.yaml .. agent-n3.yaml, haproxy.cfg), plain files users can read and copy. */
export const EXAMPLES_DEMO_DIR = join(REPO_ROOT, "examples", "demo");

/** The drain/rejoin hook that talks to HAProxy's admin socket. */
export const HAPROXY_HOOK = join(REPO_ROOT, "examples", "hooks", "haproxy-server.mjs");

/** The `hoist` command of this checkout. */
export const HOIST_BIN = join(REPO_ROOT, "bin", "hoist.mjs");

/** Values go into YAML strings and HAProxy lines unquoted-safe: paths, URLs, ports. */
const SAFE_VALUE = /^[A-Za-z0-9/._:+@-]+$/;

/**
 * Replaces every `{{NAME}}` of `text` with `values[NAME]`.
 * @throws HoistError INVALID_ARGUMENT for a placeholder without a value, or a value with characters
 *   that would need quoting (spaces, quotes, #) in YAML or HAProxy's config.
 */
export function fillTemplate(text: string, values: Record<string, string | number>, what: string): string {
  return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new HoistError("INVALID_ARGUMENT", `${what} uses {{${name}}}, which the demo does not fill in`);
    const text = String(value);
    if (!SAFE_VALUE.test(text)) {
      throw new HoistError("INVALID_ARGUMENT", `${name}=${JSON.stringify(text)} for ${what} has characters that need quoting; use a work dir whose path has only letters, digits and / . _ - (--dir)`);
    }
    return text;
  });
}

/** Reads NAME from `dir` (default examples/demo), fills it in and writes it to `to`. */
export async function renderExample(name: string, to: string, values: Record<string, string | number>, dir = EXAMPLES_DEMO_DIR): Promise<string> {
  const from = join(dir, name);
  await writeFile(to, fillTemplate(await readFile(from, "utf8"), values, from));
  return to;
}
