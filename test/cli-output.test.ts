import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createProgressLines } from "../shared/format/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { freePort, sampleServiceConfig } from "./helpers/sample-service.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

describe("what the single-server commands print", () => {
  it("`hoist status` of a running service says SERVING (a one-off look at its http/tcp probes), not UNKNOWN", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const status = await runHoist(["status", "-c", node.configPath, "--json"]);
    expect(JSON.parse(status.stdout).services[0]).toMatchObject({ health: "SERVING", activity: "idle" });
    expect((await runHoist(["status", "-c", node.configPath])).stdout).toContain("SERVING (idle)");
  });

  it("`hoist status` of a node with two services shows both; --service shows and probes only that one", async () => {
    const root = await makeTempDir();
    const other = { ...sampleServiceConfig({ root: join(root, "other"), port: await freePort() }), name: "other" };
    const node = await makeSampleNode(root, { minHealthyMs: 300, extra: { services: [sampleServiceConfig({ root, port: await freePort() }), other] } });
    const all = await runHoist(["status", "-c", node.configPath, "--json"]);
    expect(all.code, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as { services: { name: string }[] }).services.map((service) => service.name)).toEqual(["kv", "other"]);
    const one = await runHoist(["status", "-c", node.configPath, "--service", "other", "--json"]);
    expect((JSON.parse(one.stdout) as { services: { name: string }[] }).services.map((service) => service.name)).toEqual(["other"]);
    const table = await runHoist(["status", "-c", node.configPath]);
    expect(table.stdout).toMatch(/kv[\s\S]*other/);
    expect((await runHoist(["status", "-c", node.configPath, "--service", "nope"])).code).toBe(1);
  });

  it("`hoist rollback` after 1.0.0 -> 1.1.1 prints the way it went: rolled-back 1.1.1 -> 1.0.0", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.1"])).code).toBe(0);
    const rollback = await runHoist(["rollback", "-c", node.configPath]);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain("rolled-back 1.1.1 -> 1.0.0");
    const json = await runHoist(["status", "-c", node.configPath, "--json"]);
    expect(JSON.parse(json.stdout).services[0].lastUpgrade).toMatchObject({ result: "rolled-back", from: "1.1.1", to: "1.0.0" });
  });
});

describe("how progress and errors are printed", () => {
  it("a fresh install says drain, stop and rejoin are skipped (as docs/state-machine.md does) instead of printing them as run", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    const install = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"]);
    expect(install.code, install.stderr).toBe(0);
    const lines = install.stderr.split("\n");
    expect(lines).toContain("[drain] drain skipped: fresh install");
    expect(lines).toContain("[stop] stop skipped: fresh install, nothing runs yet");
    expect(lines).toContain("[rejoin] rejoin skipped: fresh install");
    expect(lines.filter((line) => /^\[(drain|stop|rejoin)\] \w+ (started|done)$/.test(line))).toEqual([]);
  });

  it("`hoist upgrade` to a pipe prints one line per step, never one per percent, and no timestamps", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    // 8 MiB of data, so the snapshot moves through many percents.
    await writeFile(join(node.dataDir, "bulk.bin"), randomBytes(8 * 1024 * 1024));
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const lines = upgrade.stderr.split("\n").filter(Boolean);
    expect(lines.some((line) => line.startsWith("[snapshot]"))).toBe(true);
    expect(lines.filter((line) => /\d+%/.test(line))).toEqual([]);
    expect(lines.length).toBe(new Set(lines).size);
    expect(lines.filter((line) => /\b\d{2}:\d{2}:\d{2}\b/.test(line))).toEqual([]);
  });

  it("errors of a command given --json are JSON on stdout (`hoist status --json` with a missing config)", async () => {
    const status = await runHoist(["status", "-c", join(await makeTempDir(), "missing.yaml"), "--json"]);
    expect(status.code).toBe(2);
    expect(JSON.parse(status.stdout)).toMatchObject({ error: { code: "CONFIG_INVALID", retryable: false } });
    expect(status.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("createProgressLines", () => {
  function sink(isTTY: boolean) {
    let text = "";
    return { isTTY, columns: 200, write: (chunk: string) => void (text += chunk), text: () => text };
  }

  it("on a terminal: one line per key, updated in place (lines left on screen = keys), other lines above", () => {
    const terminal = sink(true);
    const lines = createProgressLines(terminal);
    for (let percent = 0; percent <= 100; percent++) for (const node of ["n1", "n2", "n3"]) lines.update(node, "snapshot", `${node} [snapshot] ${percent}%`);
    lines.print("rollout  batch 1 done");
    lines.done();
    const written = terminal.text();
    const newlines = written.split("\n").length - 1;
    const cursorUp = new RegExp(`${String.fromCharCode(27)}\\[(\\d+)A`, "g");
    const movedUp = [...written.matchAll(cursorUp)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(newlines - movedUp).toBe(4);
  });

  it("elsewhere: one line per key and phase; counter updates print nothing", () => {
    const pipe = sink(false);
    const lines = createProgressLines(pipe);
    for (let percent = 0; percent <= 100; percent++) lines.update("n1", "snapshot", `n1 [snapshot] ${percent}%`, "n1 [snapshot]");
    lines.update("n1", "verify", "n1 [verify] 0%", "n1 [verify]");
    expect(pipe.text()).toBe("n1 [snapshot]\nn1 [verify]\n");
  });
});
