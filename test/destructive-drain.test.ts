import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { runHoist } from "./helpers/hoist-cli.ts";
import { FIXTURE_HOOKS_DIR } from "./helpers/custom-catalog.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import type { SampleServiceConfig } from "./helpers/sample-service.ts";
import { HoistError } from "../shared/errors/index.ts";

const WIPE = join(FIXTURE_HOOKS_DIR, "leave-and-wipe.sh");
const KV_BACKUP = join(FIXTURE_HOOKS_DIR, "kv-backup.mjs");

/**
 * The clustered kv variant whose drain is like ejabberd's leave_cluster: it leaves the cluster and
 * deletes the node's local data (`--then-fail`: then halts the node and exits 1). `before: drain`
 * snapshots before that drain, and a backup command dumps the live data through the server's API.
 */
function wipingDrain(options: { snapshotBeforeDrain: boolean; thenFail?: boolean; backup?: boolean }) {
  return (service: SampleServiceConfig) => {
    service.hooks.drain = { run: [WIPE, ...(options.thenFail ? ["--then-fail"] : [])] };
    if (options.snapshotBeforeDrain) service.snapshots = { before: "drain" };
    if (options.backup) service.backups = [{ name: "kv-dump", run: [KV_BACKUP, "dump", "{file}"], restore: [KV_BACKUP, "load", "{file}"], restoreWhen: "running" }];
  };
}

async function nodeOn(version: string, edit: (service: SampleServiceConfig) => void): Promise<{ node: SampleNode; before: Record<string, string> }> {
  const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300, editService: edit });
  // A fresh install runs no drain; the data is written after it, so the next upgrade's drain is the first to wipe.
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", version]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("alpha", "one");
  await node.kv.put("beta", "two");
  return { node, before: await hashTree(node.dataDir) };
}

async function lastUpgrade(node: SampleNode): Promise<{ result: string; error?: { code: string; message: string } }> {
  const status = await runHoist(["status", "-c", node.configPath, "--json"]);
  expect(status.code, status.stderr).toBe(0);
  return (JSON.parse(status.stdout) as { services: { lastUpgrade: { result: string; error?: { code: string; message: string } } }[] }).services[0]!.lastUpgrade;
}

describe("a drain that destroys local data (like ejabberd's leave_cluster)", () => {
  it("with snapshots.before: drain, a failed upgrade rolls back to a data dir byte-identical to before the upgrade began", async () => {
    const { node, before } = await nodeOn("1.1.1", wipingDrain({ snapshotBeforeDrain: true }));
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.2.0", "--json"]);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "rolled-back", active: "1.1.1" });
    expect(await hashTree(node.dataDir)).toEqual(before);
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });
    expect((await node.kv.cluster()).member).toBe(true);
  });

  it("the coordinator's order (drain on its own, then upgrade with skipDrain) uses the snapshot taken before that drain, backups included", async () => {
    const { node, before } = await nodeOn("1.1.1", wipingDrain({ snapshotBeforeDrain: true, backup: true }));
    const agent = await node.openAgent();
    await agent.drain("kv");
    expect(await readdir(node.dataDir), "the drain wiped the data").toEqual([]);
    const outcome = await agent.upgrade({ service: "kv", to: "1.2.0", skipDrain: true });
    expect(outcome).toMatchObject({ result: "rolled-back", active: "1.1.1" });
    // The data dir came back from the snapshot, then the backup was loaded into the running service
    // (restoreWhen: running), which rewrites the same pairs with new timestamps: same data, new bytes.
    expect(Object.keys(await hashTree(node.dataDir))).toEqual(Object.keys(before));
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });

    const snapshotDir = join(node.root, "state", "services", "kv", "snapshots", outcome.snapshotId!);
    const index = JSON.parse(await readFile(join(snapshotDir, "backups.json"), "utf8")) as { backups: { name: string; sha256: string }[] };
    expect(index.backups.map((backup) => backup.name)).toEqual(["kv-dump"]);
    expect(JSON.parse(await readFile(join(snapshotDir, "backups", "kv-dump"), "utf8"))).toEqual({ alpha: "one", beta: "two" });
    await agent.stop();
  });

  it("a backup kept in a snapshot is verified with it: a changed byte makes `hoist snapshot verify` and restore refuse it", async () => {
    const { node } = await nodeOn("1.0.0", wipingDrain({ snapshotBeforeDrain: true, backup: true }));
    const created = await runHoist(["snapshot", "create", "-c", node.configPath, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const dump = join(node.root, "state", "services", "kv", "snapshots", id, "backups", "kv-dump");
    expect(JSON.parse(await readFile(dump, "utf8"))).toEqual({ alpha: "one", beta: "two" });
    const { writeFile } = await import("node:fs/promises");
    await writeFile(dump, (await readFile(dump, "utf8")).replace("one", "ONE"));
    const verify = await runHoist(["snapshot", "verify", id, "-c", node.configPath]);
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toContain("SNAPSHOT_CORRUPT");
    expect(verify.stderr).toContain("kv-dump");
    const restore = await runHoist(["snapshot", "restore", id, "-c", node.configPath]);
    expect(restore.stderr).toContain("SNAPSHOT_CORRUPT");
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });
  });
});

describe("a failed drain is not treated as harmless", () => {
  it("a drain hook that wiped the data, halted the node and failed: the upgrade runs the full recovery and the node serves its data again", async () => {
    const { node, before } = await nodeOn("1.0.0", wipingDrain({ snapshotBeforeDrain: true, thenFail: true }));
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--json"]);
    expect(upgrade.code).toBe(1);
    const outcome = JSON.parse(upgrade.stdout) as { result: string; active: string; error: { code: string; message: string } };
    expect(outcome).toMatchObject({ result: "rolled-back", active: "1.0.0", error: { code: "HOOK_FAILED" } });
    expect(outcome.error.message).toContain("drain");
    expect(await hashTree(node.dataDir)).toEqual(before);
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });
    expect((await node.kv.cluster()).member, "rejoined").toBe(true);
  });

  it("the same failure on the coordinator's drain verb: the agent restores, starts, verifies and rejoins, and says so", async () => {
    const { node, before } = await nodeOn("1.0.0", wipingDrain({ snapshotBeforeDrain: true, thenFail: true }));
    const agent = await node.openAgent();
    const error = await agent.drain("kv").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(HoistError);
    expect((error as HoistError).code).toBe("HOOK_FAILED");
    expect((error as HoistError).message).toContain("no longer served");
    expect((error as HoistError).details.recovery).toMatchObject({ result: "rolled-back", active: "1.0.0" });
    expect(await hashTree(node.dataDir)).toEqual(before);
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });
    expect((await node.kv.cluster()).member).toBe(true);
    await agent.stop();
  });

  it("without a snapshot before the drain, the node is still started again and the outcome says what was lost", async () => {
    const { node } = await nodeOn("1.0.0", wipingDrain({ snapshotBeforeDrain: false, thenFail: true }));
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--json"]);
    expect(upgrade.code).toBe(1);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "rolled-back", active: "1.0.0" });
    expect((await node.kv.healthz()).status, "the node serves again").toBe(200);
    expect((await lastUpgrade(node)).error?.code).toBe("HOOK_FAILED");
  });
});
