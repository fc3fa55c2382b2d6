import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { runHoist } from "./helpers/hoist-cli.ts";
import { FIXTURE_HOOKS_DIR } from "./helpers/custom-catalog.ts";
import { startNatsServer } from "./helpers/nats-server.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { connectBus, encodeJson, inventoryKey, openBuckets } from "../shared/bus/index.ts";
import { readPeersInService, selectPeersInService } from "../agent/bus/peers.ts";
import { NodeAgent } from "../agent/node-agent.ts";
import { silentLogger } from "../shared/logger/index.ts";
import type { NodeInventory } from "../shared/types/index.ts";
import { exists } from "./helpers/real-agent.ts";

const MEMBER_CHECK = join(FIXTURE_HOOKS_DIR, "member-check.mjs");
const WHOAMI_TO = join(FIXTURE_HOOKS_DIR, "whoami-to.sh");
const ENV_TO = join(FIXTURE_HOOKS_DIR, "env-to.sh");

describe("probes tagged by phase", () => {
  it("a membership probe (afterRejoin) is checked after the rejoin, not in verify: the upgrade commits", async () => {
    const node = await makeSampleNode(await makeTempDir(), {
      minHealthyMs: 300,
      editService: (service) => {
        service.health.probes.push({ type: "command", run: [MEMBER_CHECK], phases: ["afterRejoin"] });
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--json"]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({ result: "committed", active: "1.1.0" });
    expect((await node.kv.cluster()).member).toBe(true);
  });

  it("a rejoin that does not bring the node back into the cluster fails the afterRejoin probe: never committed", async () => {
    const node = await makeSampleNode(await makeTempDir(), {
      minHealthyMs: 300,
      editService: (service) => {
        service.health.probes.push({ type: "command", run: [MEMBER_CHECK], phases: ["afterRejoin"] });
        service.health.healthyDeadlineMs = 2000;
        // A rejoin hook that leaves instead (a restarted kv is a member, so only the rejoin can take that away).
        service.hooks.rejoin = { run: ["bin/leave"] };
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--json"]);
    expect(upgrade.code).toBe(1);
    const outcome = JSON.parse(upgrade.stdout) as { result: string; error: { code: string; message: string } };
    expect(outcome.result).not.toBe("committed");
    expect(outcome.error.code).toBe("HEALTH_CHECK_FAILED");
    expect(outcome.error.message).toContain("member-check");
  });

  it("the permanent monitor runs only the monitor probes (an expensive verify-only command never runs there)", async () => {
    const root = await makeTempDir();
    const verifyMarker = join(root, "verify-probe-ran");
    const monitorMarker = join(root, "monitor-probe-ran");
    const node = await makeSampleNode(root, {
      minHealthyMs: 300,
      editService: (service) => {
        service.health.probes.push({ type: "command", run: [WHOAMI_TO, verifyMarker], phases: ["verify"] });
        service.health.probes.push({ type: "command", run: [WHOAMI_TO, monitorMarker], phases: ["monitor"] });
        service.health.monitorIntervalMs = 60_000;
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const { rm } = await import("node:fs/promises");
    await rm(verifyMarker, { force: true }); // the install's verify ran it; from here only the monitor runs probes
    const agent = await node.openAgent({ monitorHealth: true });
    await waitFor(() => agent.health("kv") === "SERVING", { what: "the monitor's first round" });
    expect(await exists(monitorMarker)).toBe(true);
    expect(await exists(verifyMarker)).toBe(false);
    await agent.stop();
  });

  it("a failing preflight probe refuses the upgrade before anything changes", async () => {
    const node = await makeSampleNode(await makeTempDir(), {
      minHealthyMs: 300,
      editService: (service) => {
        service.health.probes.push({ type: "command", run: ["/bin/false"], phases: ["preflight"] });
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code, "a fresh install has nothing to preflight").toBe(0);
    const refused = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("PREFLIGHT_FAILED");
    expect(refused.stderr).toContain("/bin/false");
    expect((await node.kv.version()).version).toBe("1.0.0");
    expect(await exists(join(node.root, "state", "services", "kv", "journal.json"))).toBe(false);
  });

  it("a config whose probes serve no verify phase is refused at load, naming the path", async () => {
    const node = await makeSampleNode(await makeTempDir(), {
      editService: (service) => {
        service.health.probes = [{ type: "command", run: [MEMBER_CHECK], phases: ["afterRejoin"] }];
      },
    }).catch((err: Error) => err);
    expect(node).toBeInstanceOf(Error);
    expect((node as Error).message).toContain("services.0.health.probes");
  });
});

describe("hooks run as a configured user and see the peers in service", () => {
  it.runIf(process.getuid?.() === 0)("a hook with `user: nobody` runs as nobody, with nobody's HOME", async () => {
    const root = await makeTempDir();
    await chmod(root, 0o755); // mkdtemp makes it 0700: nobody could not reach out/
    const out = join(root, "out");
    await mkdir(out);
    await chmod(out, 0o777);
    const node = await makeSampleNode(root, {
      minHealthyMs: 300,
      editService: (service) => {
        service.hooks.drain = { run: [WHOAMI_TO, join(out, "drain-user")], user: "nobody" };
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0"]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect((await readFile(join(out, "drain-user"), "utf8")).trim()).toMatch(/^nobody \//);
  });

  it("a user that does not exist fails the hook with a message naming it", async () => {
    const node = await makeSampleNode(await makeTempDir(), {
      minHealthyMs: 300,
      editService: (service) => {
        service.hooks.drain = { run: ["bin/leave"], user: "no-such-user-hoist" };
      },
    });
    expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
    const upgrade = await runHoist(["upgrade", "-c", node.configPath, "--to", "1.1.0", "--json"]);
    expect(upgrade.code).toBe(1);
    expect(JSON.parse(upgrade.stdout).error.message).toContain("no-such-user-hoist");
    expect((await node.kv.version()).version).toBe("1.0.0");
  });

  it("selects as peers the other nodes whose service serves, idle, seen lately", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    const inv = (node: string, health: string, activity: string) => ({ node, cluster: "c", agentVersion: "0.1.0", services: [{ name: "kv", releases: [], snapshots: [], health, activity }], host: {} }) as unknown as NodeInventory;
    const peers = selectPeersInService(
      [
        { inventory: inv("n1", "SERVING", "idle"), seenAt: now },
        { inventory: inv("n3", "SERVING", "idle"), seenAt: now - 1000 },
        { inventory: inv("n2", "SERVING", "idle"), seenAt: now },
        { inventory: inv("n4", "NOT_SERVING", "idle"), seenAt: now },
        { inventory: inv("n5", "SERVING", "upgrading"), seenAt: now },
        { inventory: inv("n6", "SERVING", "idle"), seenAt: now - 60_000 },
      ],
      "n1",
      "kv",
      now,
    );
    expect(peers).toEqual(["n2", "n3"]);
  });

  it("a rejoin hook on the NATS bus gets HOIST_PEERS from the cluster's inventory in KV", async () => {
    const nats = await startNatsServer();
    const nc = await connectBus({ servers: [nats.url], name: "peers-test" });
    try {
      const buckets = await openBuckets(nc);
      const root = await makeTempDir();
      const peersFile = join(root, "peers");
      const node = await makeSampleNode(root, {
        node: "n1",
        cluster: "peers",
        minHealthyMs: 300,
        editService: (service) => {
          service.hooks.rejoin = { run: [ENV_TO, peersFile, "HOIST_PEERS"] };
        },
      });
      expect((await runHoist(["upgrade", "-c", node.configPath, "--to", "1.0.0"])).code).toBe(0);
      const serving = (name: string, health: string) => ({
        node: name,
        cluster: "peers",
        agentVersion: "0.1.0",
        services: [{ name: "kv", releases: [], snapshots: [], health, activity: "idle" }],
        host: { hostname: "", os: "", kernel: "", arch: "x64", cpuModel: "", cpuCores: 0, memTotalBytes: 0, memFreeBytes: 0, uptimeSeconds: 0, disks: [], readAt: "" },
        lastSeen: new Date().toISOString(),
      });
      await buckets.inventory.put(inventoryKey("peers", "n2"), encodeJson(serving("n2", "SERVING")));
      await buckets.inventory.put(inventoryKey("peers", "n3"), encodeJson(serving("n3", "NOT_SERVING")));
      await buckets.inventory.put(inventoryKey("other", "n9"), encodeJson({ ...serving("n9", "SERVING"), cluster: "other" }));
      expect(await readPeersInService(buckets.inventory, "peers", "n1", "kv")).toEqual(["n2"]);

      const agent = new NodeAgent(node.config, { logger: silentLogger(), peers: (service) => readPeersInService(buckets.inventory, "peers", "n1", service) });
      await agent.start();
      await agent.rejoin("kv");
      expect((await readFile(peersFile, "utf8")).trim()).toBe("n2");
      await agent.stop();
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});
