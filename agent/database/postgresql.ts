import { randomBytes } from "node:crypto";
import { HoistError } from "../../shared/errors/index.ts";
import type { DatabaseSession } from "./credentials.ts";
import { runTool } from "./run-tool.ts";
import type { DatabaseRunContext, DatabaseSpec, TableRowCounts } from "./spec.ts";

const QUERY_TIMEOUT_MS = 120_000;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A conninfo naming only the database (host, port and user come from the session's env). */
function conninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Runs SQL with psql on `database` and returns its rows split on `|` (queries return only numbers and hex, so no value holds a separator). */
async function psql(spec: DatabaseSpec, session: DatabaseSession, database: string, statements: string[], ctx: DatabaseRunContext): Promise<string[][]> {
  const argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo(database), ...statements.flatMap((sql) => ["-c", sql])];
  const result = await runTool({ what: `psql on database ${spec.name}`, argv, cwd: session.dir, env: session.env, timeoutMs: QUERY_TIMEOUT_MS }, ctx);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("|"));
}

/** Exact rows per table of every ordinary table outside the system schemas, keyed `schema.table`. */
export async function countPostgresRows(spec: DatabaseSpec, session: DatabaseSession, ctx: DatabaseRunContext): Promise<TableRowCounts> {
  // The schema and table names hex-encoded, so no name can break the output apart.
  const tables = (
    await psql(
      spec,
      session,
      spec.database,
      [
        "SELECT encode(convert_to(n.nspname, 'UTF8'), 'hex') || '.' || encode(convert_to(c.relname, 'UTF8'), 'hex') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
          "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1",
      ],
      ctx,
    )
  ).map(([field]) => {
    const [schema, table] = field!.split(".").map((hex) => Buffer.from(hex, "hex").toString("utf8"));
    return { schema: schema!, table: table! };
  });
  const counts: TableRowCounts = {};
  if (tables.length === 0) return counts;
  const sql = tables.map(({ schema, table }, index) => `SELECT ${index}, count(*) FROM ${quoteIdent(schema)}.${quoteIdent(table)}`).join(" UNION ALL ");
  for (const [index, count] of await psql(spec, session, spec.database, [sql], ctx)) {
    const table = tables[Number(index)]!;
    counts[`${table.schema}.${table.table}`] = Number(count);
  }
  return counts;
}

/** `pg_dump -Fc` of the database into `file`. */
export async function dumpPostgres(spec: DatabaseSpec, session: DatabaseSession, file: string, ctx: DatabaseRunContext): Promise<void> {
  await runTool({ what: `pg_dump of database ${spec.name}`, argv: ["pg_dump", "-Fc", "--file", file, "-d", conninfo(spec.database)], cwd: session.dir, env: session.env, timeoutMs: spec.timeoutMs }, ctx);
}

/**
 * Checks that `pg_restore` can read the dump's table of contents and that it holds the database entry.
 * @throws HoistError SNAPSHOT_CORRUPT when it cannot.
 */
export async function checkPostgresDump(name: string, file: string, cwd: string, ctx: DatabaseRunContext): Promise<void> {
  try {
    const result = await runTool({ what: `pg_restore --list of the dump of ${name}`, argv: ["pg_restore", "--list", file], cwd, env: {}, timeoutMs: QUERY_TIMEOUT_MS }, ctx);
    if (!/^;\s+dbname:/m.test(result.stdout)) throw new HoistError("SNAPSHOT_CORRUPT", "its table of contents names no database");
  } catch (err) {
    if (err instanceof HoistError && (err.code === "CANCELLED" || err.code === "TIMEOUT")) throw err;
    throw new HoistError("SNAPSHOT_CORRUPT", `the dump of database ${name} (${file}) is not a readable pg_dump archive: ${(err as Error).message}`, { cause: err, details: { database: name } });
  }
}

/**
 * Puts the database back as dumped: the current one is closed to connections and renamed aside,
 * `pg_restore --create` recreates it (schema, rows, owner, database settings) from the maintenance
 * database, and only once that succeeded is the renamed copy dropped. When the restore fails the
 * half-restored database is dropped and the renamed one takes its name back.
 * @throws HoistError HOOK_FAILED (a tool failed; the database is as it was before the restore).
 */
export async function restorePostgres(spec: DatabaseSpec, session: DatabaseSession, file: string, ctx: DatabaseRunContext): Promise<void> {
  const maintenance = spec.maintenanceDatabase ?? "postgres";
  const db = quoteIdent(spec.database);
  const [[exists] = []] = await psql(spec, session, maintenance, [`SELECT count(*) FROM pg_database WHERE datname = ${quoteLiteral(spec.database)}`], ctx);
  const aside = `hoist_rb_${randomBytes(5).toString("hex")}`;
  if (exists === "1") {
    await psql(
      spec,
      session,
      maintenance,
      [
        `ALTER DATABASE ${db} ALLOW_CONNECTIONS false`,
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${quoteLiteral(spec.database)} AND pid <> pg_backend_pid()`,
        `ALTER DATABASE ${db} RENAME TO ${quoteIdent(aside)}`,
      ],
      ctx,
    );
  }
  try {
    await runTool({ what: `pg_restore of database ${spec.name}`, argv: ["pg_restore", "--create", "--exit-on-error", "-d", conninfo(maintenance), file], cwd: session.dir, env: session.env, timeoutMs: spec.timeoutMs }, ctx);
  } catch (err) {
    if (exists === "1") {
      await psql(spec, session, maintenance, [`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, `ALTER DATABASE ${quoteIdent(aside)} RENAME TO ${db}`, `ALTER DATABASE ${db} ALLOW_CONNECTIONS true`], {
        ...(ctx.tracker ? { tracker: ctx.tracker } : {}),
      }).catch(() => undefined);
    }
    throw err;
  }
  if (exists === "1") await psql(spec, session, maintenance, [`DROP DATABASE ${quoteIdent(aside)} WITH (FORCE)`], ctx);
}
