import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import type { FleetRow } from "../coordinator/inventory/drift.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function catalogSha256(path: string): Promise<Record<string, string>> {
  const catalog = parse(await readFile(path, "utf8"));
  return Object.fromEntries(catalog.services.kv.releases.map((release: { version: string; artifact: { sha256: string } }) => [release.version, release.artifact.sha256]));
}

describe("hoist inventory (3 agent processes, real nats-server)", () => {
  it("lists every node with version, sha256, health, last seen, agent, OS and disk free, and flags the node that is behind (table and --json)", { timeout: 90_000 }, async () => {
    cluster = await startCluster(await makeTempDir(), { nodes: 3, version: "1.1.1", versions: [undefined, undefined, "1.1.0"] });
    const sha = await catalogSha256(cluster.catalog);
    const started = Date.now();
    await waitFor(
      async () => {
        const json = await cluster!.hoist(["inventory", "--cluster", cluster!.cluster, "--json"]);
        return (JSON.parse(json.stdout) as FleetRow[]).every((row) => row.health === "SERVING");
      },
      { timeoutMs: 20_000, what: "every node SERVING in the inventory" },
    );

    const json = await cluster.hoist(["inventory", "--cluster", cluster.cluster, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as FleetRow[];
    expect(rows.map((row) => row.node)).toEqual(["n1", "n2", "n3"]);
    for (const row of rows) {
      const expected = row.node === "n3" ? "1.1.0" : "1.1.1";
      expect(row).toMatchObject({ cluster: cluster.cluster, service: "kv", version: expected, sha256: sha[expected], health: "SERVING", agentVersion: "0.1.0" });
      expect(row.os).toMatch(/\S/);
      expect(row.diskFreeBytes).toBeGreaterThan(0);
      expect(row.lastSeen).toBeGreaterThanOrEqual(started - 30_000);
      expect(row.lastSeen).toBeLessThanOrEqual(Date.now());
    }
    expect(rows.find((row) => row.node === "n3")!.drift).toEqual(["majority version is 1.1.1"]);
    expect(rows.filter((row) => row.node !== "n3").every((row) => row.drift.length === 0)).toBe(true);

    const table = await cluster.hoist(["inventory", "--cluster", cluster.cluster]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/CLUSTER\s+NODE\s+SERVICE\s+VERSION\s+SHA256\s+HEALTH\s+LAST SEEN\s+AGENT\s+OS\s+DISK FREE/);
    const rowOf = (node: string) => lines.find((line) => line.split(/\s+/).includes(node))!;
    for (const node of ["n1", "n2"]) {
      expect(rowOf(node)).toMatch(new RegExp(`^ \\s+${cluster.cluster}\\s+${node}\\s+kv\\s+1\\.1\\.1\\s+${sha["1.1.1"]!.slice(0, 12)}\\s+SERVING\\s+\\d+s ago\\s+0\\.1\\.0\\s+\\S`));
    }
    expect(rowOf("n3")).toMatch(new RegExp(`^!\\s+${cluster.cluster}\\s+n3\\s+kv\\s+1\\.1\\.0\\s+${sha["1.1.0"]!.slice(0, 12)}\\s+SERVING`));
    expect(table.stdout).toContain(`! ${cluster.cluster}/n3 kv: majority version is 1.1.1`);

    // an agent that stops publishing is flagged as not seen; a live one writes its heartbeat at least
    // every 5 s (keepalive, checked every 2 s), so 12 s of silence tells the dead from the live
    await cluster.nodes[1]!.killAgent("SIGKILL");
    const stale = await waitFor(
      async () => {
        const result = await cluster!.hoist(["inventory", "--cluster", cluster!.cluster, "--stale-after-ms", "12000"]);
        return result.stdout.includes(`! ${cluster!.cluster}/n2 kv: not seen for`) ? result.stdout : undefined;
      },
      { timeoutMs: 30_000, what: "n2 flagged as not seen" },
    );
    expect(stale).toMatch(/^!\s+\S+\s+n2\s/m);
    expect(stale).not.toContain(`${cluster.cluster}/n1 kv:`);
  });
});
