import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { runHoist } from "./helpers/hoist-cli.ts";
import { FIXTURE_HOOKS_DIR, releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";
import { createTestDatabase, databaseState, MARIADB, POSTGRES, SEED, sql, type Engine } from "./helpers/databases.ts";

const DB_MIGRATE = join(FIXTURE_HOOKS_DIR, "db-migrate.sh");

/**
 * A kv node (installed at 1.1.0) whose service also keeps data in a database of its own, declared
 * under `databases:`; the catalog's 1.1.1 hop runs db-migrate.sh (alters `items`, rewrites and
 * deletes rows, adds a table) and then fails or succeeds.
 */
async function nodeWithDatabase(engine: Engine, outcome: "ok" | "fail"): Promise<{ node: SampleNode; database: string }> {
  const database = await createTestDatabase(engine);
  for (const statement of SEED[engine]) await sql(engine, database, statement);
  const root = await makeTempDir();
  const catalog = await writeCustomCatalog(root, (releases) => {
    releaseOf(releases, "1.1.1").migrations.push({ name: "db-schema-2", run: [DB_MIGRATE, engine, outcome], scope: "node" });
  });
  const server = engine === "postgresql" ? POSTGRES : MARIADB;
  const node = await makeSampleNode(root, {
    minHealthyMs: 300,
    extra: { catalog },
    editService: (service) => {
      service.env = { ...service.env, TEST_DB: database };
      service.databases = [{ name: "main", engine, database, host: server.host, port: server.port, user: server.user }];
    },
  });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"]);
  expect(install.code, install.stderr).toBe(0);
  return { node, database };
}

function snapshotPath(node: SampleNode, id: string, ...rest: string[]): string {
  return join(node.root, "state", "services", "kv", "snapshots", id, ...rest);
}

interface BackupsIndex {
  backups: { name: string; file: string; sha256: string; bytes: number; database?: { engine: string; tables: Record<string, number | null> } }[];
}

describe.each(["postgresql", "mariadb"] as const)("databases: %s is part of the snapshot", (engine) => {
  it(`a migration that alters ${engine} tables and then fails is rolled back: schema and every row identical to before`, async () => {
    const { node, database } = await nodeWithDatabase(engine, "fail");
    const before = await databaseState(engine, database);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--json"]);
    const outcome = JSON.parse(upgrade.stdout) as { result: string; active: string; error?: { code: string; message: string } };
    expect(outcome, upgrade.stderr).toMatchObject({ result: "rolled-back", active: "1.1.0", error: { code: "HOOK_FAILED" } });
    expect(outcome.error!.message).toContain("db-schema-2");
    const after = await databaseState(engine, database);
    expect(after.schema).not.toContain("migrated");
    expect(after.schema).toEqual(before.schema);
    expect(after.rows).toEqual(before.rows);
    expect(Object.keys(after.rows).sort()).toEqual(["items", "notes"]);
    expect(after.rows.items!.trim().split("\n")).toHaveLength(300);

    const list = await runHoist(["snapshot", "list", "-c", node.configPath, "--json"]);
    const [snapshot] = JSON.parse(list.stdout) as { id: string }[];
    const index = JSON.parse(await readFile(snapshotPath(node, snapshot!.id, "backups.json"), "utf8")) as BackupsIndex;
    const items = engine === "postgresql" ? "public.items" : "items";
    const notes = engine === "postgresql" ? "public.notes" : "notes";
    expect(index.backups).toMatchObject([{ name: "main", file: "backups/db-main.dump", database: { engine, tables: { [items]: 300, [notes]: 43 } } }]);
  });
});

describe("databases: a committed upgrade and a corrupt dump", () => {
  it("a committed upgrade keeps the migrated PostgreSQL database", async () => {
    const { node, database } = await nodeWithDatabase("postgresql", "ok");
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--json"]);
    expect(JSON.parse(upgrade.stdout), upgrade.stderr).toMatchObject({ result: "committed", active: "1.1.1" });
    const after = await databaseState("postgresql", database);
    expect(after.schema).toContain("migrated");
    expect(Object.keys(after.rows).sort()).toEqual(["items", "notes", "v2_extra"]);
    expect(after.rows.items!.trim().split("\n")).toHaveLength(200);
    expect(after.rows.items).toContain("ITEM-1-v2");
  });

  it("`hoist rollback` after a committed upgrade brings the MariaDB database back to before it and keeps today's in a safety snapshot", async () => {
    const { node, database } = await nodeWithDatabase("mariadb", "ok");
    const before = await databaseState("mariadb", database);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1", "--json"]);
    expect(JSON.parse(upgrade.stdout), upgrade.stderr).toMatchObject({ result: "committed", active: "1.1.1" });
    const migrated = await databaseState("mariadb", database);
    expect(migrated.schema).toContain("migrated");
    const rollback = await runHoist(["rollback", "-c", node.configPath, "--json"]);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(await databaseState("mariadb", database)).toEqual(before);

    const list = JSON.parse((await runHoist(["snapshot", "list", "-c", node.configPath, "--json"])).stdout) as { id: string; label?: string }[];
    const safety = list.find((snapshot) => snapshot.label?.startsWith("before rollback"));
    expect(safety, JSON.stringify(list)).toBeDefined();
    const index = JSON.parse(await readFile(snapshotPath(node, safety!.id, "backups.json"), "utf8")) as BackupsIndex;
    expect(index.backups[0]!.database!.tables).toEqual({ items: 200, notes: 29, v2_extra: 0 });
    expect(await readFile(snapshotPath(node, safety!.id, "backups", "db-main.dump"), "utf8")).toContain("`migrated`");
  });

  it("a corrupt PostgreSQL dump in a snapshot is refused by verify and by restore, the database untouched", async () => {
    const { node, database } = await nodeWithDatabase("postgresql", "ok");
    const created = await runHoist(["snapshot", "create", "-c", node.configPath, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const verified = await runHoist(["snapshot", "verify", id, "-c", node.configPath]);
    expect(verified.code, verified.stderr).toBe(0);
    await sql("postgresql", database, "INSERT INTO items (name, qty) VALUES ('after-snapshot', 1)");
    const state = await databaseState("postgresql", database);

    // A changed byte: the sha256 no longer matches.
    const dump = snapshotPath(node, id, "backups", "db-main.dump");
    const original = await readFile(dump);
    const flipped = Buffer.from(original);
    const middle = flipped.length >> 1;
    flipped.writeUInt8(flipped.readUInt8(middle) ^ 0xff, middle);
    await writeFile(dump, flipped);
    const verify = await runHoist(["snapshot", "verify", id, "-c", node.configPath]);
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toContain("SNAPSHOT_CORRUPT");
    expect(verify.stderr).toContain("main");

    // A dump whose recorded sha256 was made to match, but which pg_restore cannot read.
    const garbage = Buffer.concat([Buffer.from("PGDMP"), Buffer.alloc(64, 7)]);
    await writeFile(dump, garbage);
    const indexPath = snapshotPath(node, id, "backups.json");
    const index = JSON.parse(await readFile(indexPath, "utf8")) as BackupsIndex;
    index.backups[0]!.sha256 = createHash("sha256").update(garbage).digest("hex");
    index.backups[0]!.bytes = garbage.length;
    await writeFile(indexPath, JSON.stringify(index));
    const unreadable = await runHoist(["snapshot", "verify", id, "-c", node.configPath]);
    expect(unreadable.code).not.toBe(0);
    expect(unreadable.stderr).toContain("SNAPSHOT_CORRUPT");
    expect(unreadable.stderr).toContain("not a readable pg_dump archive");
    const restore = await runHoist(["snapshot", "restore", id, "-c", node.configPath]);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain("SNAPSHOT_CORRUPT");
    expect(await databaseState("postgresql", database)).toEqual(state);
  });
});
