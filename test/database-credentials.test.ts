import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { countDatabaseRows, dumpDatabase, restoreDatabase, type DatabaseSpec } from "../agent/database/index.ts";
import type { ProcessTracker } from "../agent/exec/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { createTestDatabase, databaseState, MARIADB, sql } from "./helpers/databases.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const users: string[] = [];
afterEach(async () => {
  for (const user of users.splice(0)) await sql("mariadb", "mysql", `DROP USER IF EXISTS '${user}'@'localhost', '${user}'@'127.0.0.1'`).catch(() => undefined);
});

/** Records the argv of every child the database tools start. */
function recordingTracker(argvs: string[][]): ProcessTracker {
  return { willSpawn: (argv) => (argvs.push([...argv]), String(argvs.length)), spawned: () => undefined, ended: () => undefined };
}

describe("database credentials come from a password file and never show", () => {
  it("a MariaDB user with a password full of quoting characters dumps and restores; the password is in no argv and in no error", async () => {
    const database = await createTestDatabase("mariadb");
    await sql("mariadb", database, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    const user = `hoist_u_${randomBytes(4).toString("hex")}`;
    users.push(user);
    const password = `p@ss:w"o'rd\\ #;${randomBytes(4).toString("hex")}`;
    const literal = password.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
    for (const host of ["localhost", "127.0.0.1"]) {
      await sql("mariadb", "mysql", `CREATE USER '${user}'@'${host}' IDENTIFIED BY '${literal}'; GRANT ALL ON \`${database}\`.* TO '${user}'@'${host}'`);
    }
    const dir = await makeTempDir();
    const passwordFile = join(dir, "db.pass");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const spec: DatabaseSpec = { name: "main", engine: "mariadb", database, host: MARIADB.host, port: MARIADB.port, user, passwordFile, timeoutMs: 60_000 };
    const argvs: string[][] = [];
    const tracker = recordingTracker(argvs);

    const before = await databaseState("mariadb", database);
    const dump = join(dir, "main.dump");
    expect(await dumpDatabase(spec, dump, { tracker })).toEqual({ t: 3 });
    await sql("mariadb", database, "ALTER TABLE t ADD COLUMN w int; DELETE FROM t WHERE id = 2");
    await restoreDatabase(spec, dump, { t: 3 }, { tracker });
    expect(await databaseState("mariadb", database)).toEqual(before);
    expect(argvs.length).toBeGreaterThan(3);
    expect(argvs.flat().join("\n")).not.toContain(password);

    await writeFile(passwordFile, "wrong-password\n");
    const refused = await countDatabaseRows(spec).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HoistError);
    expect((refused as HoistError).code).toBe("HOOK_FAILED");
    expect((refused as HoistError).message).toContain("Access denied");
    expect(JSON.stringify({ message: (refused as HoistError).message, details: (refused as HoistError).details })).not.toContain("wrong-password");
  });

  it("a restore whose rows differ from the recorded counts is refused with SNAPSHOT_CORRUPT", async () => {
    const database = await createTestDatabase("postgresql");
    await sql("postgresql", database, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
    const spec: DatabaseSpec = { name: "main", engine: "postgresql", database, host: "127.0.0.1", port: 5432, user: "postgres", timeoutMs: 60_000 };
    const dump = join(await makeTempDir(), "main.dump");
    const tables = await dumpDatabase(spec, dump);
    expect(tables).toEqual({ "public.t": 10 });
    const wrong = await restoreDatabase(spec, dump, { "public.t": 11 }).catch((err: unknown) => err);
    expect((wrong as HoistError).code).toBe("SNAPSHOT_CORRUPT");
    expect((wrong as HoistError).message).toContain("public.t: 10 row(s), recorded 11");
  });
});
