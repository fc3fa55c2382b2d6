import { readFile, readlink, access } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode, type SampleNode } from "./helpers/sample-node.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

async function installed(version: string): Promise<SampleNode> {
  const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
  const install = await runHoist(["upgrade", "-c", node.configPath, "--to", version, "--json"]);
  expect(install.code, install.stderr).toBe(0);
  await node.kv.put("k1", "v1");
  await node.kv.put("k2", "v2");
  return node;
}

interface ServiceStatus {
  activeVersion: string;
  lastUpgrade?: { result: string };
  operation?: { state: string; step: string };
}

async function statusOf(node: SampleNode): Promise<ServiceStatus> {
  const status = await runHoist(["status", "-c", node.configPath, "--json"]);
  expect(status.code, status.stderr).toBe(0);
  return (JSON.parse(status.stdout) as { services: ServiceStatus[] }).services[0]!;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Each case SIGKILLs the `hoist upgrade` process right after its journal was saved at one boundary
 * (HOIST_FAULT_KILL_AT), then takes the node over again (`hoist recover` resumes interrupted work;
 * `hoist status` only reads) and checks the node ended committed or rolled back, never half-switched.
 */
describe("an agent SIGKILLed at a step boundary and restarted ends committed or rolled back", () => {
  const forward = [
    "stage:started",
    "stage:done",
    "drain:done",
    "stop:done",
    "snapshot:started",
    "snapshot:done",
    "switch:started",
    "switch:done",
    "migrate:started",
    "migrate:done",
    "start:done",
    "verify:started",
    "verify:done",
    "rejoin:done",
    "commit:started",
  ];
  it.each(forward)("upgrade 1.0.0 -> 1.1.0 killed at %s", async (boundary) => {
    const node = await installed("1.0.0");
    const killed = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"], { env: { HOIST_FAULT_KILL_AT: boundary } });
    expect(killed.signal).toBe("SIGKILL");

    const interrupted = await statusOf(node);
    expect(interrupted.operation?.state, "status only reads: the interrupted journal is still there").toBe("interrupted");
    const recovered = await runHoist(["recover", "-c", node.configPath, "--json"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    const restarted = await runHoist(["status", "-c", node.configPath, "--json"]);
    expect(restarted.code, restarted.stderr).toBe(0);
    const status = JSON.parse(restarted.stdout) as { services: { activeVersion: string; lastUpgrade?: { result: string } }[] };
    const kv = status.services[0]!;
    const result = kv.lastUpgrade?.result;
    expect(["committed", "rolled-back"], JSON.stringify(kv.lastUpgrade)).toContain(result);
    const expected = result === "committed" ? "1.1.0" : "1.0.0";
    expect(kv.activeVersion).toBe(expected);
    expect(await readlink(join(node.installRoot, "current"))).toBe(join("releases", expected));
    expect(await exists(join(node.root, "state", "services", "kv", "journal.json"))).toBe(false);
    const served = await node.kv.version();
    expect(served.version).toBe(expected);
    expect(await node.kv.all()).toEqual({ k1: "v1", k2: "v2" });
    const store = JSON.parse(await readFile(join(node.dataDir, "store.json"), "utf8"));
    expect(store.schema).toBe(expected === "1.1.0" ? 2 : 1);
  });

  it.each(["rb-stop:started", "rb-restore:started", "rb-restore:done", "rb-switch:done", "rb-start:done"])(
    "a failing upgrade (1.1.1 -> 1.3.0, migration fails) killed during its rollback at %s still rolls back",
    async (boundary) => {
      const node = await installed("1.1.1");
      const killed = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.3.0"], { env: { HOIST_FAULT_KILL_AT: boundary } });
      expect(killed.signal).toBe("SIGKILL");
      expect((await runHoist(["recover", "-c", node.configPath])).code).toBe(0);
      const restarted = await runHoist(["status", "-c", node.configPath, "--json"]);
      const kv = (JSON.parse(restarted.stdout) as { services: { activeVersion: string; lastUpgrade?: { result: string } }[] }).services[0]!;
      expect(kv.lastUpgrade?.result).toBe("rolled-back");
      expect(kv.activeVersion).toBe("1.1.1");
      expect((await node.kv.version()).version).toBe("1.1.1");
      expect(await node.kv.all()).toEqual({ k1: "v1", k2: "v2" });
      expect(await exists(join(node.dataDir, "partial.tmp"))).toBe(false);
    },
  );

  it("the loop breaker stops retrying after maxResumeAttempts restarts inside one operation", async () => {
    const node = await installed("1.1.1");
    const first = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.3.0"], { env: { HOIST_FAULT_KILL_AT: "rb-restore:started" } });
    expect(first.signal).toBe("SIGKILL");
    for (let restart = 0; restart < 3; restart++) {
      const again = await runHoist(["recover", "-c", node.configPath, "--json"], { env: { HOIST_FAULT_KILL_AT: "rb-restore:started" } });
      if (restart < 2) expect(again.signal).toBe("SIGKILL");
    }
    await runHoist(["recover", "-c", node.configPath]);
    const last = await runHoist(["status", "-c", node.configPath, "--json"]);
    const kv = (JSON.parse(last.stdout) as { services: { lastUpgrade?: { result: string; error?: { code: string } } }[] }).services[0]!;
    expect(kv.lastUpgrade?.result).toBe("failed");
    expect(kv.lastUpgrade?.error?.code).toBe("CRASH_LOOP");
    const refused = await runHoist(["upgrade", "-c", node.configPath, "--to", "2.0.0"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("hoist rollback");
    const recovered = await runHoist(["rollback", "-c", node.configPath, "--json"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect((await node.kv.version()).version).toBe("1.1.1");
    expect(await node.kv.all()).toEqual({ k1: "v1", k2: "v2" });
  });
});
