import { readFileSync } from "node:fs";
import { access, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { runHoist, startHoist } from "./helpers/hoist-cli.ts";
import { FIXTURE_HOOKS_DIR, releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { waitFor } from "./helpers/wait-for.ts";

const SLOW_MIGRATION = join(FIXTURE_HOOKS_DIR, "slow-migration.mjs");

/** Pids of slow migrations a test started, killed after it whatever happened. */
const strays: string[] = [];
afterEach(async () => {
  for (const pidFile of strays.splice(0)) {
    const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/\) [ZX] /.test(readFileSyncSafe(`/proc/${pid}/stat`));
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface Slow {
  node: SampleNode;
  pidFile: string;
  gate: string;
}

/**
 * A kv node on 1.0.0 with k1, k2 set, whose catalog gives the 1.0.0 -> 1.1.0 hop an extra slow
 * migration (test/fixtures/hooks/slow-migration.mjs) that writes into the data dir until `gate` exists.
 */
async function nodeWithSlowMigration(gateName: "gate" | "never"): Promise<Slow> {
  const root = await makeTempDir();
  const pidFile = join(root, "migration.pid");
  const gate = gateName === "never" ? "never" : join(root, "gate");
  const catalog = await writeCustomCatalog(root, (releases) => {
    releaseOf(releases, "1.1.0").migrations.push({ name: "slow", run: [SLOW_MIGRATION, pidFile, gate], scope: "node", timeoutMs: 600_000 });
  });
  const node = await makeSampleNode(root, { minHealthyMs: 300, extra: { catalog } });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("k1", "v1");
  await node.kv.put("k2", "v2");
  strays.push(pidFile);
  return { node, pidFile, gate };
}

async function migrationPid(slow: Slow): Promise<number> {
  return waitFor(async () => Number((await readFile(slow.pidFile, "utf8").catch(() => "")).trim()) || undefined, { what: "the slow migration to start", timeoutMs: 30_000 });
}

describe("one owner per journal: read-only commands never take over a live upgrade", () => {
  it("`hoist status` during a live upgrade reports it and changes nothing; a second writer is refused BUSY naming the owner", async () => {
    const slow = await nodeWithSlowMigration("gate");
    const upgrade = startHoist(["upgrade", "-c", slow.node.configPath, "--to", "1.1.0", "--json"]);
    await migrationPid(slow);

    const status = await runHoist(["status", "-c", slow.node.configPath, "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const kv = (JSON.parse(status.stdout) as { services: { activity: string; operation?: { state: string; step: string; owner?: { pid: number; command: string } } }[] }).services[0]!;
    expect(kv.operation).toMatchObject({ state: "running", step: "migrate", owner: { pid: upgrade.pid, command: "hoist upgrade" } });
    expect(kv.activity).toBe("upgrading");
    const list = await runHoist(["snapshot", "list", "-c", slow.node.configPath, "--json"]);
    expect(list.code, list.stderr).toBe(0);

    const second = await runHoist(["snapshot", "create", "-c", slow.node.configPath]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("BUSY");
    expect(second.stderr).toContain(`pid ${upgrade.pid}`);
    expect(second.stderr).toContain("hoist upgrade");
    const rollback = await runHoist(["rollback", "-c", slow.node.configPath]);
    expect(rollback.stderr).toContain("BUSY");

    await writeFile(slow.gate, "go");
    const finished = await upgrade.done;
    expect(finished.code, finished.stderr).toBe(0);
    expect(JSON.parse(finished.stdout)).toMatchObject({ result: "committed", active: "1.1.0" });
    expect((await slow.node.kv.version()).version).toBe("1.1.0");
    expect(await slow.node.kv.all()).toEqual({ k1: "v1", k2: "v2" });
  });
});

describe("no orphaned hooks: a hook running when its agent is SIGKILLed is killed before anything else", () => {
  it("upgrade SIGKILLed inside a slow migration: `hoist recover` kills the migration, then rolls back to byte-identical data", async () => {
    const slow = await nodeWithSlowMigration("never");
    const before = await hashTree(slow.node.dataDir);
    const upgrade = startHoist(["upgrade", "-c", slow.node.configPath, "--to", "1.1.0"]);
    const pid = await migrationPid(slow);
    await waitFor(() => exists(join(slow.node.dataDir, "migration-trace.log")), { what: "the migration to write" });
    upgrade.kill("SIGKILL");
    expect((await upgrade.done).signal).toBe("SIGKILL");
    expect(alive(pid), "the migration outlived its agent (the defect's precondition)").toBe(true);

    const recovered = await runHoist(["recover", "-c", slow.node.configPath, "--json"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    const report = JSON.parse(recovered.stdout) as { killed: { process: string; pids: number[] }[]; outcomes: { result: string }[] };
    expect(report.killed.map((entry) => entry.pids).flat()).toContain(pid);
    expect(report.killed[0]?.process).toContain("migration slow");
    expect(report.outcomes).toMatchObject([{ result: "rolled-back" }]);
    expect(alive(pid)).toBe(false);

    // Rolled back to the snapshot: no trace of the migration, and nothing writes into the data any more.
    expect(await exists(join(slow.node.dataDir, "migration-trace.log"))).toBe(false);
    expect(await hashTree(slow.node.dataDir)).toEqual(before);
    expect((await slow.node.kv.version()).version).toBe("1.0.0");
    expect(await slow.node.kv.all()).toEqual({ k1: "v1", k2: "v2" });
    const later = await runHoist(["status", "-c", slow.node.configPath, "--json"]); // time for a stray writer to show itself
    expect(later.code).toBe(0);
    expect(await hashTree(slow.node.dataDir)).toEqual(before);
  });
});

describe("a refused restore never leaves the service stopped", () => {
  it("`hoist snapshot restore` of a corrupt snapshot refuses it before stopping the service", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    await node.kv.put("k1", "v1");
    const created = await runHoist(["snapshot", "create", "-c", node.configPath, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const snapshotDir = join(node.root, "state", "services", "kv", "snapshots", id);
    const archive = (await readdir(snapshotDir)).find((name) => name.endsWith(".tar"));
    expect(archive).toBeDefined();
    const bytes = await readFile(join(snapshotDir, archive!));
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(join(snapshotDir, archive!), bytes);
    const before = await node.kv.version();

    const restore = await runHoist(["snapshot", "restore", id, "-c", node.configPath]);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain("SNAPSHOT_CORRUPT");
    const after = await node.kv.version();
    expect(after.pid, "the service was never stopped").toBe(before.pid);
    expect(await node.kv.all()).toEqual({ k1: "v1" });
  });
});

describe("the agent daemon stays up whatever is configured", () => {
  it("`hoist agent run` with neither gRPC nor NATS keeps running (and owning the node) until SIGTERM", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const daemon = startHoist(["agent", "run", "-c", node.configPath]);
    await waitFor(() => daemon.output().stdout.includes("agent running") || daemon.output().stderr.includes("agent running"), { what: "agent running", timeoutMs: 20_000 });
    const refused = await runHoist(["snapshot", "create", "-c", node.configPath]);
    expect(refused.stderr, "the daemon still owns the node").toContain("hoist agent run");
    daemon.kill("SIGTERM");
    const ended = await daemon.done;
    expect(ended.code, ended.stderr).toBe(0);
  });
});
