/**
 * Database snapshot benchmark: Hoist's database snapshot (row counts, dump, sha256, attach,
 * verify with sha256 and the engine's readability check) and restore (verify, rename aside,
 * recreate from the dump, row counts checked) against the plain tools on the same database in the
 * same run: `pg_dump -Fc` / `DROP DATABASE` + `pg_restore --create`, and `mariadb-dump
 * --single-transaction` / `mariadb -e "source FILE"`. `npm run bench:db`.
 *
 * Environment (read here only: this file is a main):
 *   HOIST_BENCH_DB_MB        size of the generated PostgreSQL database in MiB (default 1024)
 *   HOIST_BENCH_MARIADB_MB   size of the generated MariaDB database in MiB (default 256; 0 skips it)
 *   HOIST_BENCH_DB_ROUNDS    rounds (default 2; median and min reported)
 *   HOIST_BENCH_DIR          where the dumps go (default $TMPDIR/hoist-bench-db)
 * Servers: PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and MariaDB at 127.0.0.1:3306
 * (root, no password), as scripts/setup.sh starts them. The databases are generated once per size
 * and reused (hoist_bench_pg_SIZE, hoist_bench_my_SIZE); drop them by hand to free the space.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { attachBackups, restoreBackups, takeBackups, verifyBackups, type SnapshotExtras } from "../agent/snapshot/index.ts";
import type { DatabaseSpec } from "../agent/database/index.ts";
import { benchResultFile } from "./results-file.ts";

const run = promisify(execFile);
const pgMb = Number(process.env.HOIST_BENCH_DB_MB ?? 1024);
const myMb = Number(process.env.HOIST_BENCH_MARIADB_MB ?? 256);
const rounds = Number(process.env.HOIST_BENCH_DB_ROUNDS ?? 2);
const benchDir = process.env.HOIST_BENCH_DIR ?? join(tmpdir(), "hoist-bench-db");
const BIG = { maxBuffer: 64 * 1024 * 1024 };

const times = new Map<string, number[]>();
const notes: Record<string, unknown> = {};

async function measure<T>(name: string, fn: () => Promise<T>): Promise<T> {
  execFileSync("sync");
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  times.set(name, [...(times.get(name) ?? []), seconds]);
  console.log(`  ${name}: ${seconds.toFixed(2)} s`);
  return result;
}

const psql = (db: string, sql: string) => run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql], BIG).then((r) => r.stdout.trim());
const maria = (sql: string, db = "mysql") => run("mariadb", ["-h", "127.0.0.1", "-uroot", "--batch", "--skip-column-names", "-D", db, "-e", sql], BIG).then((r) => r.stdout.trim());

/** Rows of ~200 bytes on disk (with the indexes): half hex digests, half repeated text, like application rows. */
function rowsFor(mb: number): number {
  return Math.round((mb * 1024 * 1024) / 200);
}

async function generatePostgres(db: string, mb: number): Promise<void> {
  // A database left by an interrupted generation lacks the bench_complete table: made again.
  if ((await psql("postgres", `SELECT count(*) FROM pg_database WHERE datname = '${db}'`)) === "1") {
    if ((await psql(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'bench_complete'")) === "1") return;
    await psql("postgres", `DROP DATABASE ${db} WITH (FORCE)`);
  }
  console.log(`generating PostgreSQL ${db} (~${mb} MiB)`);
  await psql("postgres", `CREATE DATABASE ${db}`);
  await psql(db, "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL)");
  await psql(db, "INSERT INTO accounts SELECT g, 'account-' || g, now() - g * interval '1 minute' FROM generate_series(0, 10006) g");
  await psql(db, "CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL REFERENCES accounts (id), kind text NOT NULL, payload text NOT NULL, created timestamptz NOT NULL)");
  const rows = rowsFor(mb);
  const batch = 1_000_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await psql(db, `INSERT INTO events SELECT g, g % 10007, 'kind-' || (g % 17), md5(g::text) || md5((g * 7)::text) || repeat(chr(97 + (g % 26)), 40), now() - g * interval '1 second' FROM generate_series(${from}, ${to}) g`);
  }
  await psql(db, "CREATE INDEX events_account ON events (account, created)");
  await psql(db, "VACUUM ANALYZE");
  await psql(db, "CREATE TABLE bench_complete (done boolean)");
}

async function generateMariadb(db: string, mb: number): Promise<void> {
  if ((await maria(`SELECT count(*) FROM information_schema.tables WHERE table_schema = '${db}' AND table_name = 'bench_complete'`)) === "1") return;
  await maria(`DROP DATABASE IF EXISTS ${db}`);
  console.log(`generating MariaDB ${db} (~${mb} MiB)`);
  await maria(`CREATE DATABASE ${db}`);
  await maria(`CREATE TABLE ${db}.accounts (id int PRIMARY KEY, name varchar(64) NOT NULL, created datetime NOT NULL) ENGINE=InnoDB`);
  await maria(`INSERT INTO ${db}.accounts SELECT seq, CONCAT('account-', seq), NOW() - INTERVAL seq MINUTE FROM seq_0_to_10006`, db);
  await maria(
    `CREATE TABLE ${db}.events (id bigint PRIMARY KEY, account int NOT NULL, kind varchar(16) NOT NULL, payload varchar(200) NOT NULL, created datetime NOT NULL, KEY events_account (account, created), FOREIGN KEY (account) REFERENCES accounts (id)) ENGINE=InnoDB`,
  );
  const rows = rowsFor(mb);
  const batch = 500_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await maria(`INSERT INTO ${db}.events SELECT seq, seq % 10007, CONCAT('kind-', seq % 17), CONCAT(MD5(seq), MD5(seq * 7), REPEAT(CHAR(97 + seq % 26), 40)), NOW() - INTERVAL seq SECOND FROM seq_${from}_to_${to}`, db);
  }
  await maria(`CREATE TABLE ${db}.bench_complete (done boolean)`);
}

async function databaseMb(engine: "postgresql" | "mariadb", db: string): Promise<number> {
  if (engine === "mariadb") await maria("ANALYZE TABLE accounts, events", db);
  const bytes = engine === "postgresql" ? await psql("postgres", `SELECT pg_database_size('${db}')`) : await maria(`SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = '${db}'`);
  return Math.round(Number(bytes) / 1024 / 1024);
}

/** One round of Hoist's snapshot and restore of `spec` and of the plain tools, interleaved. */
async function benchRound(label: string, spec: DatabaseSpec, plain: { dump: (file: string) => Promise<void>; restore: (file: string) => Promise<void> }): Promise<void> {
  const snapshots = join(benchDir, `${label}-snapshots`);
  await rm(snapshots, { recursive: true, force: true });
  await mkdir(snapshots, { recursive: true });
  const extras: SnapshotExtras = { backups: [], databases: [spec] };
  const ctx = () => ({ cwd: benchDir, env: {} });
  const id = "bench";
  await measure(`${label} hoist snapshot (counts, dump, sha256, verify)`, async () => {
    const taken = await takeBackups(extras, snapshots, ctx);
    await mkdir(join(snapshots, id));
    await attachBackups(snapshots, id, taken);
    await verifyBackups(snapshots, id);
  });
  const plainFile = join(benchDir, `${label}-plain.dump`);
  await rm(plainFile, { force: true });
  await measure(`${label} plain dump`, () => plain.dump(plainFile));
  notes[`${label} dump MiB (hoist / plain)`] = [(await stat(join(snapshots, id, "backups", "db-main.dump"))).size / 1024 / 1024, (await stat(plainFile)).size / 1024 / 1024].map((mb) => Math.round(mb));
  await measure(`${label} hoist restore (verify, recreate, counts)`, () => restoreBackups(extras, snapshots, id, "stopped", ctx));
  await measure(`${label} plain restore`, () => plain.restore(plainFile));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  const pgDb = `hoist_bench_pg_${pgMb}`;
  const myDb = `hoist_bench_my_${myMb}`;
  await generatePostgres(pgDb, pgMb);
  if (myMb > 0) await generateMariadb(myDb, myMb);
  notes["PostgreSQL database MiB (pg_database_size)"] = await databaseMb("postgresql", pgDb);
  if (myMb > 0) notes["MariaDB database MiB (data + index length)"] = await databaseMb("mariadb", myDb);
  const pgSpec: DatabaseSpec = { name: "main", engine: "postgresql", database: pgDb, host: "127.0.0.1", port: 5432, user: "postgres", timeoutMs: 3_600_000 };
  const mySpec: DatabaseSpec = { name: "main", engine: "mariadb", database: myDb, host: "127.0.0.1", port: 3306, user: "root", timeoutMs: 3_600_000 };
  const pgEnv = { ...process.env, PGHOST: "127.0.0.1", PGUSER: "postgres" };
  for (let round = 1; round <= rounds; round++) {
    console.log(
      `round ${round}/${rounds} (load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")})`,
    );
    await benchRound("postgresql", pgSpec, {
      dump: (file) => run("pg_dump", ["-Fc", "-f", file, pgDb], { env: pgEnv }).then(() => undefined),
      restore: async (file) => {
        await run("psql", ["-X", "-q", "-d", "postgres", "-c", `DROP DATABASE ${pgDb} WITH (FORCE)`], { env: pgEnv });
        await run("pg_restore", ["--create", "--exit-on-error", "-d", "postgres", file], { env: pgEnv, ...BIG });
      },
    });
    if (myMb > 0) {
      await benchRound("mariadb", mySpec, {
        dump: (file) =>
          run("mariadb-dump", ["-h", "127.0.0.1", "-uroot", "--single-transaction", "--routines", "--triggers", "--hex-blob", "--add-drop-database", `--result-file=${file}`, "--databases", myDb]).then(() => undefined),
        restore: (file) => run("mariadb", ["-h", "127.0.0.1", "-uroot", "--batch", "-e", `source ${file}`], BIG).then(() => undefined),
      });
    }
  }
  const table = [...times].map(([name, values]) => ({ name, median: median(values), min: Math.min(...values), runs: values }));
  const byName = new Map(table.map((row) => [row.name, row.median]));
  const ratios: Record<string, number> = {};
  for (const engine of ["postgresql", "mariadb"]) {
    const snap = byName.get(`${engine} hoist snapshot (counts, dump, sha256, verify)`);
    const dump = byName.get(`${engine} plain dump`);
    const restore = byName.get(`${engine} hoist restore (verify, recreate, counts)`);
    const plainRestore = byName.get(`${engine} plain restore`);
    if (snap && dump) ratios[`${engine} hoist snapshot / plain dump`] = snap / dump;
    if (restore && plainRestore) ratios[`${engine} hoist restore / plain restore`] = restore / plainRestore;
  }
  console.log("\n| step | median s | min s |\n| --- | ---: | ---: |");
  for (const row of table) console.log(`| ${row.name} | ${row.median.toFixed(2)} | ${row.min.toFixed(2)} |`);
  console.log("");
  for (const [name, ratio] of Object.entries(ratios)) console.log(`${name} = ${ratio.toFixed(2)}x`);
  console.log(notes);
  await writeFile(await benchResultFile("database-latest.json"), `${JSON.stringify({ when: new Date().toISOString(), cores: cpus().length, rounds, table, ratios, notes }, null, 2)}\n`);
}

await main();
