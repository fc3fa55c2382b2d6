import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFile, chmod, link, mkdir, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSnapshotManifest, restoreSnapshot, TwoPhaseSnapshot, verifySnapshot } from "../agent/snapshot/index.ts";
import { RACY_MARGIN_MS } from "../agent/snapshot/plan-delta.ts";
import { FIXTURE_HOOKS_DIR } from "./helpers/custom-catalog.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** Files written just now are taken again by the second phase (racy ctime); wait past the margin so the first phase's copy counts. */
const settle = () => new Promise((resolve) => setTimeout(resolve, RACY_MARGIN_MS + 200));

async function inode(path: string): Promise<number> {
  return (await stat(path)).ino;
}

/** A data dir with nested dirs, a big file, hard links, symlinks and odd modes. */
async function makeData(data: string): Promise<void> {
  await mkdir(join(data, "db", "tables"), { recursive: true });
  await mkdir(join(data, "logs"));
  await mkdir(join(data, "gone-dir", "inner"), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(data, "db", "tables", `t${i}`), `row ${i}\n`.repeat(i * 20 + 1));
  await writeFile(join(data, "db", "big.bin"), Buffer.alloc(3 * 1024 * 1024 + 123, 7));
  await writeFile(join(data, "logs", "app.log"), "line 1\n");
  await writeFile(join(data, "gone-dir", "inner", "x"), "x");
  await writeFile(join(data, "becomes-dir"), "file for now");
  await mkdir(join(data, "becomes-file"));
  await writeFile(join(data, "becomes-file", "child"), "child");
  await writeFile(join(data, "shared"), "one inode, two names");
  await link(join(data, "shared"), join(data, "db", "shared-link"));
  await writeFile(join(data, "pair"), "a pair that gets a third name");
  await link(join(data, "pair"), join(data, "pair-2"));
  await symlink("db/tables/t1", join(data, "to-t1"));
  await symlink("logs/app.log", join(data, "retarget"));
  await writeFile(join(data, "secret"), "s");
  await chmod(join(data, "secret"), 0o600);
}

/** What a running service might do between the two phases: every kind of change. */
async function changeData(data: string): Promise<void> {
  await writeFile(join(data, "db", "tables", "t3"), "rewritten, other size");
  await writeFile(join(data, "db", "tables", "t4"), `row 4\n`.repeat(81).replace("row", "ROW")); // same size, new content
  await appendFile(join(data, "logs", "app.log"), "line 2\n");
  await unlink(join(data, "db", "tables", "t5"));
  await rename(join(data, "db", "tables", "t6"), join(data, "db", "t6-renamed"));
  await writeFile(join(data, "db", "tables", "t-new"), "added");
  await mkdir(join(data, "new-dir", "deep"), { recursive: true });
  await writeFile(join(data, "new-dir", "deep", "n"), "new");
  await rm(join(data, "gone-dir"), { recursive: true });
  await rm(join(data, "becomes-dir"));
  await mkdir(join(data, "becomes-dir"));
  await writeFile(join(data, "becomes-dir", "inside"), "inside");
  await rm(join(data, "becomes-file"), { recursive: true });
  await writeFile(join(data, "becomes-file"), "now a file");
  await link(join(data, "pair"), join(data, "logs", "pair-3"));
  await unlink(join(data, "retarget"));
  await symlink("db/big.bin", join(data, "retarget"));
  await symlink("nowhere", join(data, "new-link"));
  await chmod(join(data, "secret"), 0o640);
  await chmod(join(data, "logs"), 0o750);
}

describe("two-phase snapshot", () => {
  it("takes what changed after the first phase (changed, added, deleted, renamed, type changes, links, modes) and restores the tree as it was at the second phase", async () => {
    const root = await makeTempDir("hoist-2phase-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    await makeData(data);
    await settle();

    const first = await TwoPhaseSnapshot.start({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
    await changeData(data);
    const atSecondPhase = await hashTree(data);
    const info = await first.finish();

    await verifySnapshot(snapshotsDir, info.id);
    const entries = (await readSnapshotManifest(snapshotsDir, info.id)).dataDirs[0]!.entries;
    const order = entries.map((entry) => entry.path);
    // Unchanged entries stayed where the first phase put them; changed ones were appended after them.
    expect(order.indexOf("db/big.bin")).toBeLessThan(order.indexOf("db/tables/t3"));
    expect(order.slice(-20)).toEqual(expect.arrayContaining(["db/tables/t3", "db/tables/t4", "db/t6-renamed", "new-dir/deep/n", "retarget"]));
    expect(order).not.toContain("db/tables/t5");
    expect(order).not.toContain("gone-dir/inner/x");
    // An untouched hard-link pair stays in place as file + hardlink ("db" sorts before "shared").
    expect(entries.find((entry) => entry.path === "shared")).toMatchObject({ type: "hardlink", target: "db/shared-link" });
    expect(order.indexOf("shared")).toBeLessThan(order.indexOf("db/tables/t3"));

    // GNU tar extracts the same tree (retired entries are comment headers it skips), hard links included.
    const viaGnu = join(root, "gnu");
    await mkdir(viaGnu);
    execFileSync("tar", ["-xf", join(info.dir, "data-0.tar"), "-C", viaGnu]);
    expect(await hashTree(viaGnu)).toEqual(atSecondPhase);
    expect(await inode(join(viaGnu, "logs", "pair-3"))).toBe(await inode(join(viaGnu, "pair")));

    // Restore brings the data dir back to the second phase's state.
    await writeFile(join(data, "db", "tables", "t3"), "after the snapshot");
    await rm(join(data, "new-dir"), { recursive: true });
    await writeFile(join(data, "junk"), "junk");
    await restoreSnapshot(snapshotsDir, info.id);
    expect(await hashTree(data)).toEqual(atSecondPhase);
    expect(await inode(join(data, "db", "shared-link"))).toBe(await inode(join(data, "shared")));
    expect(await inode(join(data, "pair-2"))).toBe(await inode(join(data, "pair")));
    expect(await inode(join(data, "logs", "pair-3"))).toBe(await inode(join(data, "pair")));
    expect((await stat(join(data, "secret"))).mode & 0o7777).toBe(0o640);
  });

  it("files changed within the racy-ctime margin of the first phase are taken again (here all: a full snapshot instead of a delta); discard leaves nothing", async () => {
    const root = await makeTempDir("hoist-2phase-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    await makeData(data);
    // No settle: every file is "racy" (ctime within the margin), so the second phase takes all of them again.
    const first = await TwoPhaseSnapshot.start({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
    await writeFile(join(data, "db", "tables", "t7"), "changed within the same clock tick, maybe");
    const expected = await hashTree(data);
    const info = await first.finish();
    await verifySnapshot(snapshotsDir, info.id);
    const viaGnu = join(root, "gnu");
    await mkdir(viaGnu);
    execFileSync("tar", ["-xf", join(info.dir, "data-0.tar"), "-C", viaGnu]);
    expect(await hashTree(viaGnu)).toEqual(expected);
    // All content changed (racy): a full snapshot, in walk order, without retired blocks.
    const archive = await readFile(join(info.dir, "data-0.tar"));
    expect(archive.includes(Buffer.from("hoist-retired"))).toBe(false);

    const discarded = await TwoPhaseSnapshot.start({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
    await discarded.discard();
    expect((await readdir(snapshotsDir)).sort()).toEqual([info.id]);
  });

  it("a file rewritten and one growing while the first phase reads them (a real writer process) end up in the snapshot as they are at the second phase, verified, and restore so", async () => {
    const root = await makeTempDir("hoist-2phase-");
    const data = join(root, "data");
    const snapshotsDir = join(root, "snapshots");
    await makeData(data);
    const hot = join(data, "db", "hot.bin");
    const log = join(data, "logs", "grows.log");
    await writeFile(hot, Buffer.alloc(2 * 1024 * 1024, 1));
    await writeFile(log, "start\n");
    await settle();

    // The "service": rewrites 64 KiB pieces of hot.bin in place and appends to grows.log, without pause, until killed.
    const script = `
      const fs = require("node:fs");
      const [hot, log] = process.argv.slice(1);
      const fd = fs.openSync(hot, "r+");
      const piece = Buffer.alloc(64 * 1024);
      for (let i = 0; ; i++) {
        piece.fill(i % 251);
        fs.writeSync(fd, piece, 0, piece.length, ((i * 7919) % 32) * piece.length);
        fs.appendFileSync(log, "line " + i + "\\n");
      }`;
    const writer = spawn(process.execPath, ["-e", script, hot, log], { stdio: "ignore" });
    const exited = once(writer, "exit");
    try {
      await waitFor(async () => (await stat(log)).size > 1000, { timeoutMs: 10_000 });
      const first = await TwoPhaseSnapshot.start({ service: "svc", dataDirs: [data], snapshotsDir, compression: "none" });
      // The writer ran through the whole first phase; the service stops now.
      expect((await stat(log)).size).toBeGreaterThan(1000);
      writer.kill("SIGKILL");
      await exited;
      await writeFile(hot, Buffer.alloc(2 * 1024 * 1024, 9));
      await appendFile(log, "last line before the stop\n");
      const atSecondPhase = await hashTree(data);
      const info = await first.finish();

      await verifySnapshot(snapshotsDir, info.id);
      const entries = (await readSnapshotManifest(snapshotsDir, info.id)).dataDirs[0]!.entries;
      // A delta (not a full snapshot): both were taken again by the second phase, appended after the first phase's entries, each listed once.
      const order = entries.map((entry) => entry.path);
      expect(order.filter((path) => path === "db/hot.bin" || path === "logs/grows.log")).toHaveLength(2);
      expect(order.indexOf("db/hot.bin")).toBeGreaterThan(order.indexOf("secret"));
      expect(order.indexOf("logs/grows.log")).toBeGreaterThan(order.indexOf("secret"));

      const viaGnu = join(root, "gnu");
      await mkdir(viaGnu);
      execFileSync("tar", ["-xf", join(info.dir, "data-0.tar"), "-C", viaGnu]);
      expect(await hashTree(viaGnu)).toEqual(atSecondPhase);

      await writeFile(hot, "changed after the snapshot");
      await restoreSnapshot(snapshotsDir, info.id);
      expect(await hashTree(data)).toEqual(atSecondPhase);
      expect((await readFile(log, "utf8")).endsWith("last line before the stop\n")).toBe(true);
    } finally {
      writer.kill("SIGKILL");
    }
  });

  it("an upgrade copies the data dirs before the drain and takes the rest after the stop: a rollback brings back what the drain wrote", async () => {
    const root = await makeTempDir("hoist-2phase-");
    // The drain hook stands for a service still writing after the first phase: it writes into the data dir.
    const node = await makeSampleNode(root, { editService: (service) => void (service.hooks.drain = { run: [join(FIXTURE_HOOKS_DIR, "env-to.sh"), join(root, "data", "written-by-drain"), "KV_NODE"] }) });
    const agent = await node.openAgent();
    expect((await agent.upgrade({ service: "kv", to: "1.1.1" })).result).toBe("committed");
    for (const key of ["a", "b", "c"]) await node.kv.put(key, `value-${key}`);
    await settle();

    const messages: string[] = [];
    const outcome = await agent.upgrade({ service: "kv", to: "1.3.0" }, { onProgress: (progress) => void messages.push(`${progress.step}: ${progress.message}`) });

    // 1.3.0's migration fails half way: the rollback restores the snapshot of the stopped service.
    expect(outcome.result).toBe("rolled-back");
    const firstPhase = messages.findIndex((message) => message.includes("first phase of the snapshot"));
    expect(firstPhase).toBeGreaterThanOrEqual(0);
    expect(messages[firstPhase]).toMatch(/^drain: /);
    expect(messages.findIndex((message) => message.startsWith("drain: running drain hook"))).toBeGreaterThan(firstPhase);
    expect(await readFile(join(node.dataDir, "written-by-drain"), "utf8")).toBe("node-1\n");
    expect(await node.kv.all()).toEqual({ a: "value-a", b: "value-b", c: "value-c" });
    const entries = (await readSnapshotManifest(join(node.config.stateDir, "services", "kv", "snapshots"), outcome.snapshotId!)).dataDirs[0]!.entries;
    expect(entries.at(-1)?.path).toBe("written-by-drain"); // appended by the second phase, after the first phase's entries
  });
});
