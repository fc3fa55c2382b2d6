/**
 * Databases of a service, with the engines' own tools: dump (with exact row counts per table),
 * check a dump is readable, restore it so the database is as dumped and the counts match again.
 * Every tool runs through the exec layer (agent/exec): no shell, own process group, tracked.
 */
import { HoistError } from "../../shared/errors/index.ts";
import { openDatabaseSession, type DatabaseSession } from "./credentials.ts";
import { checkMariadbDump, countMariadbRows, dumpMariadb, restoreMariadb } from "./mariadb.ts";
import { checkPostgresDump, countPostgresRows, dumpPostgres, restorePostgres } from "./postgresql.ts";
import type { DatabaseRunContext, DatabaseSpec, TableRowCounts } from "./spec.ts";

export type { DatabaseSpec, DatabaseRunContext, TableRowCounts } from "./spec.ts";

async function withSession<T>(spec: DatabaseSpec, fn: (session: DatabaseSession) => Promise<T>): Promise<T> {
  const session = await openDatabaseSession(spec);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

function countRows(spec: DatabaseSpec, session: DatabaseSession, ctx: DatabaseRunContext): Promise<TableRowCounts> {
  return spec.engine === "postgresql" ? countPostgresRows(spec, session, ctx) : countMariadbRows(spec, session, ctx);
}

/** Exact rows per table of the database now. */
export function countDatabaseRows(spec: DatabaseSpec, ctx: DatabaseRunContext = {}): Promise<TableRowCounts> {
  return withSession(spec, (session) => countRows(spec, session, ctx));
}

/**
 * Dumps the database into `file` and returns its rows per table. The rows are counted before and
 * after the dump: a table whose count changed meanwhile (a service writing during `snapshots.before:
 * drain`) is recorded as null, since its count in the dump is not known, and is not checked on restore.
 * @throws HoistError HOOK_FAILED (a tool failed), CONFIG_INVALID (password file), CANCELLED.
 */
export async function dumpDatabase(spec: DatabaseSpec, file: string, ctx: DatabaseRunContext = {}): Promise<TableRowCounts> {
  return withSession(spec, async (session) => {
    const before = await countRows(spec, session, ctx);
    if (spec.engine === "postgresql") await dumpPostgres(spec, session, file, ctx);
    else await dumpMariadb(spec, session, file, ctx);
    const after = await countRows(spec, session, ctx);
    const tables: TableRowCounts = {};
    for (const [table, count] of Object.entries(after)) tables[table] = before[table] === count ? count : null;
    return tables;
  });
}

/**
 * Checks that a dump can be read by its engine's tools (`pg_restore --list`; the header and closing
 * line of a mariadb-dump file). Needs no connection.
 * @throws HoistError SNAPSHOT_CORRUPT when it cannot.
 */
export async function checkDatabaseDump(engine: DatabaseSpec["engine"], name: string, file: string, cwd: string, ctx: DatabaseRunContext = {}): Promise<void> {
  if (engine === "postgresql") await checkPostgresDump(name, file, cwd, ctx);
  else await checkMariadbDump(name, file);
}

/**
 * Restores the database from `file` (dropped and recreated as dumped), then checks that every table
 * recorded with a count has exactly that many rows and that no other table exists.
 * @throws HoistError SNAPSHOT_CORRUPT when the restored rows differ from the recorded counts;
 *   HOOK_FAILED when a tool fails.
 */
export async function restoreDatabase(spec: DatabaseSpec, file: string, expected: TableRowCounts, ctx: DatabaseRunContext = {}): Promise<void> {
  await withSession(spec, async (session) => {
    if (spec.engine === "postgresql") await restorePostgres(spec, session, file, ctx);
    else await restoreMariadb(spec, session, file, ctx);
    const actual = await countRows(spec, session, ctx);
    const wrong = [...new Set([...Object.keys(expected), ...Object.keys(actual)])]
      .filter((table) => !(table in expected) || !(table in actual) || (expected[table] !== null && expected[table] !== actual[table]))
      .map((table) => `${table}: ${actual[table] ?? "missing"} row(s), recorded ${table in expected ? (expected[table] ?? "unknown") : "no such table"}`);
    if (wrong.length > 0) {
      throw new HoistError("SNAPSHOT_CORRUPT", `database ${spec.name} was restored but differs from what the snapshot recorded: ${wrong.slice(0, 5).join("; ")}${wrong.length > 5 ? ` (and ${wrong.length - 5} more)` : ""}`, {
        details: { database: spec.name, differences: wrong },
      });
    }
  });
}
