import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import type { DatabaseSpec } from "./spec.ts";

/** A private dir (0700) holding the connection files of one use of a database; `close` removes it. */
export interface DatabaseSession {
  /** Working dir of the tools (the private dir). */
  dir: string;
  /** PostgreSQL: PGHOST, PGPORT, PGUSER, PGPASSFILE, ... (PGDATABASE is set per command). */
  env: Record<string, string>;
  /** MariaDB: `--defaults-extra-file=...` (must come first in argv). */
  leadingArgs: string[];
  close(): Promise<void>;
}

/**
 * Writes what the engine's tools need to connect, the password (read from `passwordFile` now)
 * only into a 0600 file in a 0700 dir: never argv, never env, never a log line.
 * @throws HoistError CONFIG_INVALID when the password file cannot be read.
 */
export async function openDatabaseSession(spec: DatabaseSpec): Promise<DatabaseSession> {
  const password = spec.passwordFile === undefined ? undefined : await readPassword(spec);
  const dir = await mkdtemp(join(tmpdir(), "hoist-db-"));
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    if (spec.engine === "postgresql") {
      const env: Record<string, string> = { PGCONNECT_TIMEOUT: "10", PGAPPNAME: "hoist" };
      const host = spec.socket ?? spec.host;
      if (host !== undefined) env.PGHOST = host;
      if (spec.port !== undefined) env.PGPORT = String(spec.port);
      if (spec.user !== undefined) env.PGUSER = spec.user;
      if (password !== undefined) {
        const file = join(dir, "pgpass");
        // Every host, port, database and user: the session only ever connects to this one server.
        await writeFile(file, `*:*:*:*:${password.replace(/\\/g, "\\\\").replace(/:/g, "\\:")}\n`, { mode: 0o600 });
        env.PGPASSFILE = file;
      }
      return { dir, env, leadingArgs: [], close };
    }
    const lines = ["[client]"];
    if (spec.user !== undefined) lines.push(`user=${optionValue(spec.user)}`);
    if (password !== undefined) lines.push(`password=${optionValue(password)}`);
    if (spec.socket !== undefined) lines.push(`socket=${optionValue(spec.socket)}`, "protocol=socket");
    if (spec.host !== undefined) lines.push(`host=${optionValue(spec.host)}`, "protocol=tcp");
    if (spec.port !== undefined) lines.push(`port=${spec.port}`);
    const file = join(dir, "client.cnf");
    await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o600 });
    return { dir, env: {}, leadingArgs: [`--defaults-extra-file=${file}`], close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function readPassword(spec: DatabaseSpec): Promise<string> {
  try {
    return (await readFile(spec.passwordFile!, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `cannot read the password file ${spec.passwordFile} of database ${spec.name}: ${(err as Error).message}; fix passwordFile or its permissions`, { cause: err });
  }
}

/** A quoted value of a MySQL option file (backslash escapes inside double quotes). */
function optionValue(value: string): string {
  if (/[\n\r]/.test(value)) throw new HoistError("CONFIG_INVALID", "a database user, password or socket may not contain a line break");
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
