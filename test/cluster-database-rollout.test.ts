import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, writeCatalogVariant, type TestCluster } from "./helpers/cluster.ts";
import { FIXTURE_HOOKS_DIR } from "./helpers/custom-catalog.ts";
import { createTestDatabase, databaseState, MARIADB, POSTGRES, SEED, sql, type Engine } from "./helpers/databases.ts";

const DB_MIGRATE = join(FIXTURE_HOOKS_DIR, "db-migrate.sh");

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe.each(["postgresql", "mariadb"] as const)("rollouts of a kv variant that keeps its data in %s (2 agent processes, real nats-server, real database server)", (engine: Engine) => {
  it("a rollout whose migration alters the tables and then fails rolls the node back with its database identical (schema and rows); a good one migrates every node's database", { timeout: 240_000 }, async () => {
    const databases = [await createTestDatabase(engine), await createTestDatabase(engine)];
    for (const database of databases) for (const statement of SEED[engine]) await sql(engine, database, statement);
    const root = await makeTempDir();
    // 1.3.0 alters the tables, then its own migration fails; 2.0.0 alters them and goes on.
    const catalog = await writeCatalogVariant(join(root, "catalog.yaml"), (edited) => {
      const releases = edited.services.kv.releases as { version: string; migrations: unknown[] }[];
      releases.find((entry) => entry.version === "1.3.0")!.migrations.unshift({ name: "db-schema-2", run: [DB_MIGRATE, engine, "ok"], scope: "node" });
      releases.find((entry) => entry.version === "2.0.0")!.migrations.unshift({ name: "db-schema-2", run: [DB_MIGRATE, engine, "ok"], scope: "node" });
    });
    const server = engine === "postgresql" ? POSTGRES : MARIADB;
    cluster = await startCluster(root, {
      nodes: 2,
      version: "1.1.1",
      catalog,
      editService: (service, node) => {
        const database = databases[Number(node.slice(1)) - 1]!;
        service.env = { ...service.env, TEST_DB: database };
        service.databases = [{ name: "main", engine, database, host: server.host, port: server.port, user: server.user }];
      },
    });
    const before = await Promise.all(databases.map((database) => databaseState(engine, database)));

    const failed = await cluster.hoist(cluster.rolloutArgs("1.3.0"), { timeoutMs: 150_000 });
    expect(failed.code, `${failed.stdout}\n${failed.stderr}`).not.toBe(0);
    const failedRollout = (await cluster.rollout())!;
    expect(failedRollout.phase).toBe("failed");
    expect(failedRollout.hops[0]!.nodes).toMatchObject({ n1: { status: "rolled-back" }, n2: { status: "pending" } });
    expect(await Promise.all(databases.map((database) => databaseState(engine, database)))).toEqual(before);
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("1.1.1");

    const good = await cluster.hoist(cluster.rolloutArgs("2.0.0"), { timeoutMs: 150_000 });
    expect(good.code, `${good.stdout}\n${good.stderr}`).toBe(0);
    for (const [index, database] of databases.entries()) {
      const after = await databaseState(engine, database);
      expect(after.schema).toMatch(/migrated/);
      expect(after.rows.items!.trim().split("\n")).toHaveLength(200);
      expect(after.rows).toHaveProperty("v2_extra");
      expect((await cluster.nodes[index]!.kv.version()).version).toBe("2.0.0");
    }
  });
});
