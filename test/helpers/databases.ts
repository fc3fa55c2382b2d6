import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterEach } from "vitest";

const run = promisify(execFile);

/** The servers the database tests use (scripts/setup.sh installs and starts them). */
export const POSTGRES = { host: "127.0.0.1", port: 5432, user: "postgres" } as const;
export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" } as const;

export type Engine = "postgresql" | "mariadb";

/** Runs SQL on a test database and returns its output (tab-separated rows; PostgreSQL's unaligned with tabs). */
export async function sql(engine: Engine, database: string, statement: string): Promise<string> {
  const { stdout } =
    engine === "postgresql"
      ? await run("psql", ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", POSTGRES.host, "-p", String(POSTGRES.port), "-U", POSTGRES.user, "-d", database, "-c", statement], { maxBuffer: 64 * 1024 * 1024 })
      : await run("mariadb", ["-h", MARIADB.host, "-P", String(MARIADB.port), "-u", MARIADB.user, "--batch", "--skip-column-names", database, "-e", statement], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * Fails (never skips) when a server is not reachable: a database test that did not run is a failure.
 * The message says how to get the servers.
 */
export async function assertServerUp(engine: Engine): Promise<void> {
  try {
    await sql(engine, engine === "postgresql" ? "postgres" : "mysql", "SELECT 1");
  } catch (err) {
    throw new Error(`the ${engine} test server at 127.0.0.1:${engine === "postgresql" ? POSTGRES.port : MARIADB.port} is not reachable (run scripts/setup.sh): ${(err as Error).message}`, { cause: err });
  }
}

const created: { engine: Engine; name: string }[] = [];

/** Drops every database a test created, even when it failed. */
afterEach(async () => {
  for (const { engine, name } of created.splice(0)) {
    await (engine === "postgresql" ? sql(engine, "postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) : sql(engine, "mysql", `DROP DATABASE IF EXISTS \`${name}\``)).catch(() => undefined);
  }
});

/** Creates a database with a unique name (dropped after the test) and returns that name. */
export async function createTestDatabase(engine: Engine): Promise<string> {
  await assertServerUp(engine);
  const name = `hoist_t_${randomBytes(6).toString("hex")}`;
  created.push({ engine, name });
  await (engine === "postgresql" ? sql(engine, "postgres", `CREATE DATABASE "${name}"`) : sql(engine, "mysql", `CREATE DATABASE \`${name}\``));
  return name;
}

/**
 * Everything a rollback must bring back, as text to compare: the schema (pg_dump --schema-only, or
 * SHOW CREATE TABLE of every table) and every row of every table in primary-key order.
 */
export async function databaseState(engine: Engine, database: string): Promise<{ schema: string; rows: Record<string, string> }> {
  const tables = (
    await sql(engine, database, engine === "postgresql" ? "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1" : "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1")
  )
    .split("\n")
    .filter(Boolean);
  let schema: string;
  if (engine === "postgresql") {
    const { stdout } = await run("pg_dump", ["--schema-only", "--no-comments", "-h", POSTGRES.host, "-p", String(POSTGRES.port), "-U", POSTGRES.user, database], { maxBuffer: 64 * 1024 * 1024 });
    // pg_dump 15.14+ brackets its output with \\restrict RANDOM-KEY lines, new on every run.
    schema = stdout.replace(/^--.*$/gm, "").replace(/^\\(un)?restrict .*$/gm, "");
  } else {
    schema = (await Promise.all(tables.map((table) => sql(engine, database, `SHOW CREATE TABLE \`${table}\``)))).join("\n");
  }
  const rows: Record<string, string> = {};
  for (const table of tables) rows[table] = await sql(engine, database, engine === "postgresql" ? `SELECT * FROM "${table}" ORDER BY 1` : `SELECT * FROM \`${table}\` ORDER BY 1`);
  return { schema, rows };
}

/** Tables a kv variant keeps in its database (items with an index and a check, notes referencing them), 300 items. */
export const SEED: Record<Engine, string[]> = {
  postgresql: [
    "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int NOT NULL, CHECK (qty >= 0))",
    "CREATE INDEX items_name ON items (name)",
    "CREATE TABLE notes (id int PRIMARY KEY, item int REFERENCES items (id) ON DELETE CASCADE, body text)",
    "INSERT INTO items (name, qty) SELECT 'item-' || g, g FROM generate_series(1, 300) g",
    "INSERT INTO notes SELECT g, g, repeat('n', g % 50) FROM generate_series(1, 300, 7) g",
  ],
  mariadb: [
    "CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, name varchar(64) NOT NULL, qty int NOT NULL, KEY items_name (name)) ENGINE=InnoDB",
    "CREATE TABLE notes (id int PRIMARY KEY, item int, body text, FOREIGN KEY (item) REFERENCES items (id) ON DELETE CASCADE) ENGINE=InnoDB",
    "INSERT INTO items (name, qty) SELECT CONCAT('item-', seq), seq FROM seq_1_to_300",
    "INSERT INTO notes SELECT seq, seq, REPEAT('n', seq % 50) FROM seq_1_to_300_step_7",
  ],
};
