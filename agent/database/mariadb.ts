import { open } from "node:fs/promises";
import { HoistError } from "../../shared/errors/index.ts";
import type { DatabaseSession } from "./credentials.ts";
import { runTool } from "./run-tool.ts";
import type { DatabaseRunContext, DatabaseSpec, TableRowCounts } from "./spec.ts";

const QUERY_TIMEOUT_MS = 120_000;

/** mariadb-dump and mariadb for MariaDB; mysqldump and mysql for MySQL. */
function tools(spec: DatabaseSpec): { dump: string; client: string } {
  return spec.engine === "mysql" ? { dump: "mysqldump", client: "mysql" } : { dump: "mariadb-dump", client: "mariadb" };
}

function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, "``")}\``;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** Runs SQL with the client in batch mode and returns its rows (tab-separated; queries return only numbers and hex). */
async function query(spec: DatabaseSpec, session: DatabaseSession, sql: string, ctx: DatabaseRunContext): Promise<string[][]> {
  const argv = [tools(spec).client, ...session.leadingArgs, "--batch", "--skip-column-names", "-e", sql];
  const result = await runTool({ what: `${argv[0]} on database ${spec.name}`, argv, cwd: session.dir, env: session.env, timeoutMs: QUERY_TIMEOUT_MS }, ctx);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"));
}

/** Exact rows per base table of the database (COUNT(*), not the estimate of information_schema). */
export async function countMariadbRows(spec: DatabaseSpec, session: DatabaseSession, ctx: DatabaseRunContext): Promise<TableRowCounts> {
  const tables = (await query(spec, session, `SELECT HEX(table_name) FROM information_schema.tables WHERE table_schema = ${quoteLiteral(spec.database)} AND table_type = 'BASE TABLE' ORDER BY table_name`, ctx)).map(([hex]) =>
    Buffer.from(hex!, "hex").toString("utf8"),
  );
  const counts: TableRowCounts = {};
  if (tables.length === 0) return counts;
  const db = quoteIdent(spec.database);
  const sql = tables.map((table, index) => `SELECT ${index}, COUNT(*) FROM ${db}.${quoteIdent(table)}`).join(" UNION ALL ");
  for (const [index, count] of await query(spec, session, sql, ctx)) counts[tables[Number(index)]!] = Number(count);
  return counts;
}

/**
 * `mariadb-dump --single-transaction` (a consistent InnoDB snapshot without locking writers) of the
 * database with its routines and triggers, as SQL that drops and recreates it.
 */
export async function dumpMariadb(spec: DatabaseSpec, session: DatabaseSession, file: string, ctx: DatabaseRunContext): Promise<void> {
  const { dump } = tools(spec);
  const argv = [dump, ...session.leadingArgs, "--single-transaction", "--routines", "--triggers", "--hex-blob", "--add-drop-database", `--result-file=${file}`, "--databases", spec.database];
  await runTool({ what: `${dump} of database ${spec.name}`, argv, cwd: session.dir, env: session.env, timeoutMs: spec.timeoutMs }, ctx);
}

/**
 * Checks that the dump is a complete mariadb-dump/mysqldump file: its header, and the
 * `-- Dump completed` line the tool writes last (a dump cut short lacks it).
 * @throws HoistError SNAPSHOT_CORRUPT when it is not.
 */
export async function checkMariadbDump(name: string, file: string): Promise<void> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 256));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(size, 512));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const why = !/^-- (MariaDB|MySQL) dump/m.test(head.toString("latin1"))
      ? "it does not start like a mariadb-dump file"
      : !/-- Dump completed/.test(tail.toString("latin1"))
        ? "it lacks the closing `-- Dump completed` line (cut short)"
        : undefined;
    if (why) throw new HoistError("SNAPSHOT_CORRUPT", `the dump of database ${name} (${file}) is not readable: ${why}`, { details: { database: name } });
  } finally {
    await handle.close();
  }
}

/** Runs the dump (it drops and recreates the database: `--add-drop-database`) through the client's `source`. */
export async function restoreMariadb(spec: DatabaseSpec, session: DatabaseSession, file: string, ctx: DatabaseRunContext): Promise<void> {
  if (/[\n\r]/.test(file)) throw new HoistError("INVALID_ARGUMENT", `cannot source a dump whose path has a line break: ${file}`);
  const { client } = tools(spec);
  const argv = [client, ...session.leadingArgs, "--batch", "-e", `source ${file}`];
  await runTool({ what: `${client} restore of database ${spec.name}`, argv, cwd: session.dir, env: session.env, timeoutMs: spec.timeoutMs }, ctx);
}
