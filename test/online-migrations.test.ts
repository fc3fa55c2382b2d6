import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { FIXTURE_HOOKS_DIR, releaseOf, writeCustomCatalog } from "./helpers/custom-catalog.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

const ONLINE = join(FIXTURE_HOOKS_DIR, "online-migration.mjs");

async function nodeWithOnlineMigration(outcome: "ok" | "fail") {
  const root = await makeTempDir();
  const catalog = await writeCustomCatalog(root, (releases) => {
    releaseOf(releases, "1.1.0").migrations.unshift({ name: "online-schema", run: [ONLINE, outcome], when: "before-stop" });
  });
  const node = await makeSampleNode(root, { minHealthyMs: 200 });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0", "--catalog", catalog]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("greeting", "hello");
  return { node, catalog, log: () => readFile(join(node.runDir, "online-migration.log"), "utf8").catch(() => "") };
}

describe("online migrations (`when: before-stop`) with the sample service's real tarballs", () => {
  it("runs a before-stop migration against the old release while it still serves, before the stop, then the rest of the upgrade", { timeout: 60_000 }, async () => {
    const { node, catalog, log } = await nodeWithOnlineMigration("ok");
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--catalog", catalog]);
    expect(upgrade.code, `${upgrade.stdout}\n${upgrade.stderr}`).toBe(0);
    // it reached the running 1.0.0 over HTTP: the old release was still serving
    expect(await log()).toBe("1.0.0 1.0.0->1.1.0 active=1.0.0\n");
    const output = upgrade.stdout + upgrade.stderr;
    const online = output.indexOf("running online-schema against the running 1.0.0");
    const stopHook = output.indexOf("running stop hook");
    expect(online).toBeGreaterThan(-1);
    expect(stopHook).toBeGreaterThan(online);
    expect(await node.kv.version()).toMatchObject({ version: "1.1.0", schema: 2 });
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });

  it("a failing online migration aborts the upgrade before the stop: the old release never stopped and serves its data", { timeout: 60_000 }, async () => {
    const { node, catalog, log } = await nodeWithOnlineMigration("fail");
    const pidBefore = (await node.kv.version()).pid;
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--catalog", catalog, "--json"]);
    expect(upgrade.code).toBe(1);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "aborted", active: "1.0.0", error: { code: "HOOK_FAILED" } });
    expect(await log()).toBe("1.0.0 1.0.0->1.1.0 active=1.0.0\n");
    expect(await node.kv.version()).toMatchObject({ version: "1.0.0", schema: 1, pid: pidBefore });
    expect(await node.kv.all()).toEqual({ greeting: "hello" });
  });
});
