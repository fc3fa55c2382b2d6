import { readFile, writeFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { HoistError } from "../shared/errors/index.ts";

async function installAt(version: string) {
  const node = await makeSampleNode(await makeTempDir());
  const agent = await node.openAgent();
  const outcome = await agent.upgrade({ service: "kv", to: version });
  expect(outcome.result).toBe("committed");
  return { node, agent };
}

describe("node upgrade engine against the real sample service", () => {
  it("upgrades 1.0.0 -> 1.1.0 -> 1.1.1 in one go: every hop's migration runs, data migrated, user config preserved", async () => {
    const { node, agent } = await installAt("1.0.0");
    await node.kv.put("alpha", "one");
    await node.kv.put("beta", "two");
    const conf = join(node.installRoot, "current", "config", "service.conf");
    await writeFile(conf, "greeting=edited by the operator\n");
    await expect(agent.rollback("kv")).rejects.toMatchObject({ code: "WRONG_STATE" }); // a fresh install has nothing to go back to

    const steps: string[] = [];
    const outcome = await agent.upgrade({ service: "kv", to: "1.1.1" }, { onProgress: (p) => steps.push(`${p.step}:${p.message ?? ""}`) });

    expect(outcome).toMatchObject({ result: "committed", from: "1.0.0", to: "1.1.1", active: "1.1.1" });
    expect(outcome.hops).toEqual([
      { from: "1.0.0", to: "1.1.0" },
      { from: "1.1.0", to: "1.1.1" },
    ]);
    const info = await node.kv.version();
    expect(info).toMatchObject({ version: "1.1.1", schema: 2, greeting: "edited by the operator" });
    expect(await node.kv.all()).toEqual({ alpha: "one", beta: "two" });
    const store = JSON.parse(await readFile(join(node.dataDir, "store.json"), "utf8"));
    expect(store.schema).toBe(2);
    expect(store.items.alpha.value).toBe("one");
    expect(steps.some((line) => line.includes("store-schema-2"))).toBe(true);
    expect(await readlink(join(node.installRoot, "current"))).toBe(join("releases", "1.1.1"));

    const inventory = await agent.inventory();
    const kv = inventory.services[0]!;
    expect(kv.activeVersion).toBe("1.1.1");
    expect(kv.activeSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(kv.releases.map((release) => release.version)).toEqual(expect.arrayContaining(["1.0.0", "1.1.0", "1.1.1"]));
    expect(kv.snapshots.length).toBeGreaterThanOrEqual(1);
    expect(kv.lastUpgrade?.result).toBe("committed");
  });

  it("a release failing its health check after start rolls back: previous release running, data dir byte-identical", async () => {
    const { node, agent } = await installAt("1.1.1");
    await node.kv.put("keep", "me");
    await agent.stopService("kv");
    const before = await hashTree(node.dataDir);
    await startAgain(node);

    const outcome = await agent.upgrade({ service: "kv", to: "1.2.0" });

    expect(outcome.result).toBe("rolled-back");
    expect(outcome.error?.code).toBe("HEALTH_CHECK_FAILED");
    expect(outcome.active).toBe("1.1.1");
    expect((await node.kv.version()).version).toBe("1.1.1");
    expect(await node.kv.get("keep")).toBe("me");
    expect(await readlink(join(node.installRoot, "current"))).toBe(join("releases", "1.1.1"));
    await agent.stopService("kv");
    expect(await hashTree(node.dataDir)).toEqual(before);
  });

  it("a migration failing half way rolls back: the half-changed data dir is restored byte for byte", async () => {
    const { node, agent } = await installAt("1.1.1");
    for (const key of ["a", "b", "c", "d"]) await node.kv.put(key, `value-${key}`);
    await agent.stopService("kv");
    const before = await hashTree(node.dataDir);
    await startAgain(node);

    const outcome = await agent.upgrade({ service: "kv", to: "1.3.0" });

    expect(outcome.result).toBe("rolled-back");
    expect(outcome.error?.code).toBe("HOOK_FAILED");
    expect(outcome.error?.message).toContain("migrate");
    expect((await node.kv.version()).version).toBe("1.1.1");
    await agent.stopService("kv");
    const after = await hashTree(node.dataDir);
    expect(after).toEqual(before);
    expect(Object.keys(after)).not.toContain("partial.tmp");
  });

  it("refuses a downgrade unless it is allowed explicitly", async () => {
    const { agent } = await installAt("1.1.1");
    await expect(agent.upgrade({ service: "kv", to: "1.0.0" })).rejects.toMatchObject({ code: "DOWNGRADE_REFUSED" });
  });

  it("a repeated request with the same idempotency key returns the recorded outcome without running again", async () => {
    const { node, agent } = await installAt("1.0.0");
    const first = await agent.upgrade({ service: "kv", to: "1.1.0", key: "rollout-1/node-1/0/upgrade/1" });
    const pidAfterFirst = (await node.kv.version()).pid;
    const second = await agent.upgrade({ service: "kv", to: "1.1.0", key: "rollout-1/node-1/0/upgrade/1" });
    expect(second).toEqual(first);
    expect((await node.kv.version()).pid).toBe(pidAfterFirst);
  });

  it("rollback undoes the last committed upgrade, keeping today's data as a safety snapshot", async () => {
    const { node, agent } = await installAt("1.0.0");
    await node.kv.put("old", "data");
    const upgraded = await agent.upgrade({ service: "kv", to: "1.1.0" });
    expect(upgraded.result).toBe("committed");
    await node.kv.put("new", "written on 1.1.0");

    const outcome = await agent.rollback("kv");

    expect(outcome.result).toBe("rolled-back");
    expect((await node.kv.version()).version).toBe("1.0.0");
    expect(await node.kv.all()).toEqual({ old: "data" });
    const labels = (await agent.listSnapshots("kv")).map((snapshot) => snapshot.label);
    expect(labels).toContain("before rollback to 1.0.0");
  });

  it("names unknown services and versions clearly", async () => {
    const { agent } = await installAt("1.0.0");
    await expect(agent.upgrade({ service: "nope", to: "1.1.0" })).rejects.toBeInstanceOf(HoistError);
    await expect(agent.upgrade({ service: "kv", to: "9.9.9" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

async function startAgain(node: Awaited<ReturnType<typeof makeSampleNode>>) {
  const { runHook } = await import("../agent/exec/index.ts");
  await runHook("start", { run: ["bin/start"], timeoutMs: 10_000 }, { cwd: join(node.installRoot, "current"), env: { ...node.config.services[0]!.env, HOIST_DATA_DIR: node.dataDir } });
  await waitHealthy(node);
}

async function waitHealthy(node: Awaited<ReturnType<typeof makeSampleNode>>) {
  const { waitFor } = await import("./helpers/wait-for.ts");
  await waitFor(async () => (await node.kv.healthz()).status === 200, { what: "kv healthy" });
}
