import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { runHoist } from "./helpers/hoist-cli.ts";

describe("what the single-server commands print", () => {
  it("`hoist status` of a running service says SERVING (a one-off look at its http/tcp probes), not UNKNOWN", async () => {
    const node = await makeSampleNode(await makeTempDir(), { minHealthyMs: 300 });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const status = await runHoist(["status", "-c", node.configPath, "--json"]);
    expect(JSON.parse(status.stdout).services[0]).toMatchObject({ health: "SERVING", activity: "idle" });
    expect((await runHoist(["status", "-c", node.configPath])).stdout).toContain("SERVING (idle)");
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
