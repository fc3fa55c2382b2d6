import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAgentClient, type AgentClient } from "../shared/proto/index.ts";
import { runHoist, startHoist, type RunningHoist } from "./helpers/hoist-cli.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

const COUNT_GC = join(import.meta.dirname, "fixtures", "agent", "count-gc.mjs");

let agent: RunningHoist | undefined;
let client: AgentClient | undefined;
afterEach(async () => {
  client?.close();
  agent?.kill("SIGTERM");
  await agent?.done;
  agent = client = undefined;
});

async function collections(file: string): Promise<number> {
  return (await readFile(file, "utf8").catch(() => "")).split("\n").filter(Boolean).length;
}

describe("the agent daemon's memory", () => {
  it("memory taken by a snapshot is given back: with gc exposed (as the systemd unit runs it) the agent collects after the snapshot, and not while idle", { timeout: 90_000 }, async () => {
    const node = await makeSampleNode(await makeTempDir(), { node: "mem-1", cluster: "mem", extra: { grpc: { listen: "127.0.0.1:0", insecure: true } } });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    for (let i = 0; i < 20; i++) await writeFile(join(node.dataDir, `file-${i}.bin`), Buffer.alloc(64 * 1024, i));
    const gcFile = join(await makeTempDir(), "gc.txt");
    agent = startHoist(["agent", "run", "-c", node.configPath], { nodeArgs: ["--expose-gc", "--import", COUNT_GC], env: { HOIST_TEST_GC_FILE: gcFile } });
    const running = await waitFor(
      () =>
        agent!
          .output()
          .stderr.split("\n")
          .find((line) => line.includes('"agent running"')),
      { timeoutMs: 30_000, what: "the agent to run" },
    );
    const address = (JSON.parse(running) as { grpc: string }).grpc;
    client = createAgentClient(address, { insecure: true });
    expect((await client.getInventory()).services[0]!.activeVersion).toBe("1.0.0");
    expect(await collections(gcFile)).toBe(0);

    const snapshot = await client.snapshot("kv", { deadlineMs: 60_000 });
    expect(snapshot.files).toBeGreaterThanOrEqual(20);
    await waitFor(async () => (await collections(gcFile)) > 0, { timeoutMs: 30_000, what: "a full collection after the snapshot" });
  });
});
