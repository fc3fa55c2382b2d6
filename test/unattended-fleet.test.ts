import { generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, writeYaml, type TestCluster } from "./helpers/cluster.ts";
import { hashTree } from "./helpers/hash-tree.ts";
import { makeFileTempDir } from "./helpers/temp-dir.ts";
import { SAMPLE_RELEASES_DIR } from "./helpers/sample-service.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { decodeJson } from "../shared/bus/index.ts";
import { readInventories } from "../shared/inventory/index.ts";
import { OBJECT_ARTIFACTS, openUnattendedBucket, slotsFilter, unattendedEventsSubject, UnattendedStore, type DesiredRolloutInput, type RolloutSnapshot } from "../shared/unattended/index.ts";

/**
 * Unattended rollouts with no coordinator: five real `hoist agent run` processes on one nats-server
 * bring the fleet to each desired state by themselves. The cases run in order on the same fleet
 * (one cluster start for the file): two waves, a window, a late arriver, a bad version, suspend,
 * a silent slot holder.
 */
describe("unattended rollout across five agents", () => {
  let root: string;
  let cluster: TestCluster;
  let store: UnattendedStore;
  /** The most live (uncharged) slots seen at once per wave by a watcher of the slot keys, for the whole file. */
  const maxLive = new Map<string, number>();
  const live = new Map<string, { wave: string; charged: boolean }>();
  let docCount = 0;

  const unattendedConfig = { pollIntervalMs: 60_000, heartbeatMs: 500, backoffMs: 1000 };

  beforeAll(async () => {
    root = await makeFileTempDir();
    cluster = await startCluster(root, {
      nodes: 5,
      version: "1.0.0",
      lifetime: "file",
      agentExtra: (index) => ({ labels: index === 0 ? { ring: "canary" } : { ring: "main" }, unattended: unattendedConfig }),
    });
    store = new UnattendedStore(await openUnattendedBucket(cluster.nc), cluster.nc);
    const watcher = await store.kv.watch({ key: slotsFilter(cluster.cluster, "kv") });
    void (async () => {
      for await (const entry of watcher) {
        if (entry.operation === "PUT") {
          const slot = decodeJson<{ wave: string; charged?: unknown }>(entry.value);
          live.set(entry.key, { wave: slot.wave, charged: slot.charged !== undefined });
        } else live.delete(entry.key);
        const counts = new Map<string, number>();
        for (const slot of live.values()) if (!slot.charged) counts.set(slot.wave, (counts.get(slot.wave) ?? 0) + 1);
        for (const [wave, count] of counts) maxLive.set(wave, Math.max(maxLive.get(wave) ?? 0, count));
      }
    })();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Stores the document with `hoist unattended set`; returns the revision it printed. */
  async function setDesired(doc: Partial<DesiredRolloutInput>): Promise<number> {
    const path = await writeYaml(join(root, `rollout-${++docCount}.yaml`), { cluster: cluster.cluster, service: "kv", unknownAfter: "20s", ...doc });
    const result = await cluster.hoist(["unattended", "set", "-f", path]);
    expect(result.code, result.stderr).toBe(0);
    return Number(/revision (\d+)/.exec(result.stdout)![1]);
  }
  let firstRevision = 0;

  const rollout = (): Promise<RolloutSnapshot> => store.readRollout(cluster.cluster, "kv");
  const version = async (index: number) => (await cluster.nodes[index]!.kv.version()).version;
  const reportOf = async (node: string) => (await rollout()).nodes.find((report) => report.node === node);

  /**
   * Counts, from the outside, what the agents ask of KV `hoist_unattended`: whole-rollout reads (each
   * is one ordered-consumer create), single-key direct gets, and report puts. Requests answered to this
   * test's own connection (its inbox) are left out; `hoist` CLI runs are counted (one read each).
   */
  async function countRolloutTraffic(): Promise<{ counts: { rolloutReads: number; directGets: number; reportPuts: number }; stop: () => void }> {
    const probe = cluster.nc.subscribe(`probe.${cluster.cluster}`, { max: 1, callback: (_err, msg) => msg.respond(msg.reply ?? "") });
    const ownInbox = new TextDecoder().decode((await cluster.nc.request(`probe.${cluster.cluster}`, "", { timeout: 5000 })).data);
    probe.unsubscribe();
    // The reply inbox of this connection's requests: `_INBOX.<base>.<token>`.
    const ownBase = ownInbox.split(".").slice(0, 2).join(".");
    const counts = { rolloutReads: 0, directGets: 0, reportPuts: 0 };
    const fromAgents = (reply: string | undefined) => !reply?.startsWith(`${ownBase}.`);
    const subs = [
      ...["$JS.API.CONSUMER.CREATE.KV_hoist_unattended", "$JS.API.CONSUMER.CREATE.KV_hoist_unattended.>"].map((subject) =>
        cluster.nc.subscribe(subject, { callback: (_err, msg) => void (fromAgents(msg.reply) && counts.rolloutReads++) }),
      ),
      ...["$JS.API.DIRECT.GET.KV_hoist_unattended", "$JS.API.DIRECT.GET.KV_hoist_unattended.>"].map((subject) => cluster.nc.subscribe(subject, { callback: (_err, msg) => void (fromAgents(msg.reply) && counts.directGets++) })),
      cluster.nc.subscribe(`$KV.hoist_unattended.${cluster.cluster}.kv.node.>`, { callback: () => void counts.reportPuts++ }),
    ];
    await cluster.nc.flush();
    return { counts, stop: () => subs.forEach((sub) => sub.unsubscribe()) };
  }

  it("two waves end with every node on the target, never more than maxInFlight in flight; an offline agent waits", async () => {
    await cluster.nodes[4]!.killAgent("SIGTERM");
    const traffic = await countRolloutTraffic();
    const rolloutStarted = Date.now();
    firstRevision = await setDesired({
      target: "1.1.0",
      lateArrivers: { policy: "immediately" },
      waves: [
        { name: "canary", select: { labels: { ring: "canary" } }, maxInFlight: 1, soakAfter: "1s" },
        // 3 or 4 members (n5 may have reported before it was stopped): 2 slots either way.
        { name: "main", maxInFlight: "67%" },
      ],
    });
    await waitFor(
      async () => {
        const snapshot = await rollout();
        return snapshot.slots.length === 0 && snapshot.nodes.filter((report) => report.version === "1.1.0" && report.state === "done").length === 4;
      },
      { timeoutMs: 90_000, what: "n1-n4 report 1.1.0" },
    );
    traffic.stop();
    const perAgent = (count: number) => Math.round((count / 4) * 10) / 10;
    console.log(
      `unattended KV traffic per agent over the two-wave rollout (4 agents, ${Date.now() - rolloutStarted} ms): ${perAgent(traffic.counts.rolloutReads)} whole-rollout reads, ${perAgent(traffic.counts.directGets)} direct gets, ${perAgent(traffic.counts.reportPuts)} report puts`,
    );
    // Notifies carry what changed, so a node finishing costs the others no read: each agent reads the
    // rollout for the new document, when its soak ends, to confirm its own start (again if it lost the
    // race for a slot) and after its upgrade: 2.8-3.8 per agent measured (main read it on every
    // notify: 10.8 per agent here, 43 in all, growing with the fleet).
    expect(traffic.counts.rolloutReads, JSON.stringify(traffic.counts)).toBeLessThanOrEqual(4 * 6);
    for (const index of [0, 1, 2, 3]) expect(await version(index)).toBe("1.1.0");
    expect(maxLive.get("canary")).toBe(1);
    expect(maxLive.get("main")).toBeLessThanOrEqual(2);
    expect(maxLive.get("main")).toBeGreaterThanOrEqual(1);
    // The canary went first: it reached 1.1.0 before any node of the main wave took a slot.
    const snapshot = await rollout();
    const canary = snapshot.nodes.find((report) => report.node === "n1")!;
    const main = snapshot.nodes.filter((report) => ["n2", "n3", "n4"].includes(report.node));
    const startedAt = (report: (typeof main)[number]) => report.reachedAt! - report.durationsMs.at(-1)!;
    expect(
      main.map((report) => startedAt(report) > canary.reachedAt!),
      JSON.stringify(snapshot.nodes),
    ).toEqual([true, true, true]);
    const status = await cluster.hoist(["unattended", "status", "--cluster", cluster.cluster, "--service", "kv", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed.nodes.filter((node: { decision: string }) => node.decision === "on-target")).toHaveLength(4);
    // No agent keeps a JetStream consumer open on the rollout bucket: the only one is this test's slot watcher.
    const jsm = await cluster.nc.jetstreamManager();
    await waitFor(async () => (await jsm.consumers.list("KV_hoist_unattended").next()).length === 1, { timeoutMs: 30_000, what: "only the test's own watcher left on the rollout bucket" });
  }, 120_000);

  it("a window a few seconds ahead (target from a channel): nodes wait with reason outside-window, then start when it opens", async () => {
    const opensAt = new Date(Math.ceil((Date.now() + 8000) / 1000) * 1000);
    const start = opensAt.toISOString().slice(11, 19);
    const channel = await cluster.hoist(["unattended", "channel", "stable", "1.1.1", "--cluster", cluster.cluster, "--services", "kv"]);
    expect(channel.code, channel.stderr).toBe(0);
    await setDesired({ channel: "stable", lateArrivers: { policy: "immediately" }, waves: [{ name: "all", maxInFlight: 2, window: { days: ["*"], start, duration: "1h", timezone: "UTC" } }] });
    await waitFor(async () => (await reportOf("n2"))?.reason === "outside-window", { timeoutMs: 10_000, what: "n2 waiting outside its window" });
    const waiting = await reportOf("n2");
    expect(waiting!.nextEligibleAt).toBe(opensAt.getTime());
    // get shows the document as stored, --revision an older one.
    const current = await cluster.hoist(["unattended", "get", "--cluster", cluster.cluster, "--service", "kv"]);
    expect(current.stdout).toMatch(/channel: stable/);
    const first = await cluster.hoist(["unattended", "get", "--cluster", cluster.cluster, "--service", "kv", "--revision", String(firstRevision)]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`# revision ${firstRevision},[\\s\\S]*target: 1\\.1\\.0`));
    // The forecast uses the same windows: nobody starts before the window opens.
    const plan = await cluster.hoist(["unattended", "plan", "--simulate", "--json", "--cluster", cluster.cluster, "--service", "kv"]);
    expect(plan.code, plan.stderr).toBe(0);
    const simulation = JSON.parse(plan.stdout);
    expect(simulation.durationFrom).toBe("observed");
    expect(simulation.nodes.map((node: { startAt: number }) => node.startAt >= opensAt.getTime())).toEqual(simulation.nodes.map(() => true));
    expect(simulation.nodes.length).toBeGreaterThanOrEqual(4);
    const follow = cluster.spawnHoist(["unattended", "status", "--follow", "--cluster", cluster.cluster, "--service", "kv"]);
    await waitFor(() => /wave all: \d+ node/.test(follow.output()), { timeoutMs: 20_000, what: "status --follow printing the wave" });
    expect(await version(1)).toBe("1.1.0");
    await waitFor(async () => (await rollout()).nodes.filter((report) => report.version === "1.1.1" && report.state === "done").length === 4, { timeoutMs: 90_000, what: "n1-n4 report 1.1.1" });
    await waitFor(() => /on-target/.test(follow.output()), { timeoutMs: 20_000, what: "status --follow printing again after the upgrades" });
    await follow.kill("SIGINT");
    const snapshot = await rollout();
    expect(Math.min(...snapshot.nodes.filter((report) => report.version === "1.1.1").map((report) => report.reachedAt!))).toBeGreaterThanOrEqual(opensAt.getTime());
  }, 120_000);

  it("an agent that was offline catches up when it returns, hop by hop (1.0.0 -> 1.1.0 -> 1.1.1)", async () => {
    expect(await version(4)).toBe("1.0.0");
    await cluster.nodes[4]!.startAgent();
    await waitFor(async () => (await version(4).catch(() => "")) === "1.1.1", { timeoutMs: 90_000, what: "n5 on 1.1.1" });
    const inventory = await waitFor(
      async () => {
        const entry = (await readInventories(cluster.buckets.inventory, cluster.cluster)).n5;
        return entry?.inventory.services[0]?.lastUpgrade?.to === "1.1.1" ? entry : undefined;
      },
      { what: "n5's inventory after the catch-up" },
    );
    expect(inventory.inventory.services[0]!.lastUpgrade!.hops).toEqual([
      { from: "1.0.0", to: "1.1.0" },
      { from: "1.1.0", to: "1.1.1" },
    ]);
  }, 120_000);

  it("a bad version fails on the canary, is rolled back byte-identical, quarantined, and no other node starts it", async () => {
    const before = await hashTree(cluster.nodes[0]!.dataDir);
    await setDesired({
      target: "1.2.0",
      quarantineAfter: 1,
      failureBudget: { maxFailed: 3 },
      waves: [
        { name: "canary", select: { labels: { ring: "canary" } }, maxInFlight: 1 },
        { name: "main", maxInFlight: 2 },
      ],
    });
    await waitFor(async () => (await rollout()).control.value.quarantined["1.2.0"], { timeoutMs: 90_000, what: "1.2.0 quarantined" });
    expect((await rollout()).control.value.failures).toEqual([expect.objectContaining({ node: "n1", version: "1.2.0", kind: "version-suspect" })]);
    await waitFor(async () => (await reportOf("n1"))?.state !== "in-flight" && (await rollout()).slots.length === 0, { timeoutMs: 30_000, what: "n1 back, its slot freed" });
    expect(await version(0)).toBe("1.1.1");
    expect(await hashTree(cluster.nodes[0]!.dataDir)).toEqual(before);
    await waitFor(async () => (await rollout()).nodes.filter((report) => report.node !== "n1" && report.reason === "quarantined").length === 4, { timeoutMs: 20_000, what: "the others waiting: quarantined" }).catch(
      async (err: unknown) => {
        throw new Error(`${(err as Error).message}: ${JSON.stringify((await rollout()).nodes.map((report) => [report.node, report.state, report.reason]))}`);
      },
    );
    for (const index of [1, 2, 3, 4]) expect(await cluster.nodes[index]!.starts("1.2.0")).toBe(0);
  }, 120_000);

  it("suspend stops new starts of a new target; resume lets them go again", async () => {
    const firstSuspended = new Map<string, number>();
    const events = cluster.nc.subscribe(unattendedEventsSubject(cluster.cluster), {
      callback: (_err, msg) => {
        const event = decodeJson<{ type: string; reason?: string; node: string; at: string }>(msg.data);
        if (event.type === "node-state" && event.reason === "suspended" && !firstSuspended.has(event.node)) firstSuspended.set(event.node, Date.parse(event.at));
      },
    });
    const suspend = await cluster.hoist(["unattended", "suspend", "--cluster", cluster.cluster, "--service", "kv", "--reason", "change freeze"]);
    expect(suspend.code, suspend.stderr).toBe(0);
    const suspendedAt = (await rollout()).control.value.suspended!.at;
    await setDesired({ target: "2.0.0", unknownAfter: "3s", failureBudget: { maxFailed: 1 }, waves: [{ name: "all", maxInFlight: 1, minHealthy: "60s" }] });
    // Every online agent reports it waits because of the suspend, and none takes a slot.
    await waitFor(async () => (await rollout()).nodes.filter((report) => report.reason === "suspended").length === 5, { timeoutMs: 20_000, what: "every node suspended" });
    const seen = await rollout();
    expect(seen.slots).toHaveLength(0);
    for (const index of [0, 1, 2, 3, 4]) expect(await version(index)).toBe("1.1.1");
    // A figure, not an assertion: how long after the new document was stored the last agent wrote that it waits, suspended.
    events.unsubscribe();
    process.stdout.write(`unattended: every agent reported suspended within ${Math.max(...firstSuspended.values()) - suspendedAt} ms of the suspend (${firstSuspended.size} agents)\n`);
    const resume = await cluster.hoist(["unattended", "resume", "--cluster", cluster.cluster, "--service", "kv"]);
    expect(resume.code, resume.stderr).toBe(0);
  }, 120_000);

  it("a slot holder killed with SIGKILL is charged to the budget after unknownAfter and halts the rollout", async () => {
    // The document the suspend case left: 2.0.0, one at a time, 60 s minHealthy, unknownAfter 3 s, budget 1.
    const holder = await waitFor(async () => (await rollout()).slots.find((slot) => slot.wave === "all" && !slot.charged && slot.step === "min-healthy"), {
      timeoutMs: 60_000,
      what: "a slot holder past its upgrade, in minHealthy",
    }).catch(async (err: unknown) => {
      const snapshot = await rollout();
      throw new Error(`${(err as Error).message}: ${JSON.stringify({ slots: snapshot.slots, nodes: snapshot.nodes.map((report) => [report.node, report.version, report.state, report.reason]), control: snapshot.control.value })}`);
    });
    const index = cluster.nodes.findIndex((node) => node.node === holder.node);
    await cluster.nodes[index]!.killAgent("SIGKILL");
    const suspended = await waitFor(async () => (await rollout()).control.value.suspended, { timeoutMs: 30_000, what: "the rollout suspended by the budget" });
    expect(suspended.reason).toMatch(/failure budget spent/);
    const snapshot = await rollout();
    expect(snapshot.control.value.failures.filter((failure) => failure.version === "2.0.0")).toEqual([expect.objectContaining({ node: holder.node, kind: "unknown" })]);
    expect(snapshot.slots).toEqual([expect.objectContaining({ node: holder.node, charged: expect.anything() })]);
    for (const [other, node] of cluster.nodes.entries()) if (other !== index) expect(await node.starts("2.0.0")).toBe(0);
    const release = await cluster.hoist(["unattended", "release-slot", holder.node, "--cluster", cluster.cluster, "--service", "kv", "--ack", "node checked by hand"]);
    expect(release.code, release.stderr).toBe(0);
    const after = await rollout();
    expect(after.slots).toHaveLength(0);
    expect(after.control.value.releases).toEqual([expect.objectContaining({ node: holder.node, ack: "node checked by hand" })]);
  }, 120_000);

  it("hoist unattended rollback takes the node that got the new version back through the engine's rollback", async () => {
    const snapshot = await rollout();
    const upgraded = snapshot.nodes.find((report) => report.node === snapshot.control.value.failures.find((failure) => failure.version === "2.0.0")!.node)!;
    const index = cluster.nodes.findIndex((node) => node.node === upgraded.node);
    await cluster.nodes[index]!.startAgent();
    await waitFor(async () => (await version(index).catch(() => "")) === "2.0.0", { timeoutMs: 60_000, what: `${upgraded.node} serving 2.0.0 again` });
    await setDesired({ target: "2.0.0", unknownAfter: "20s", failureBudget: { maxFailed: 1 }, waves: [{ name: "all", maxInFlight: 1 }] });
    const rollback = await cluster.hoist(["unattended", "rollback", "--to", "1.1.1", "--cluster", cluster.cluster, "--service", "kv"]);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect((await cluster.hoist(["unattended", "resume", "--cluster", cluster.cluster, "--service", "kv"])).code).toBe(0);
    await waitFor(async () => (await reportOf(upgraded.node))?.version === "1.1.1" && (await reportOf(upgraded.node))?.state === "done", { timeoutMs: 60_000, what: `${upgraded.node} rolled back to 1.1.1` });
    expect(await version(index)).toBe("1.1.1");
    for (const [other, node] of cluster.nodes.entries()) if (other !== index) expect(await node.starts("2.0.0")).toBe(0);
  }, 120_000);
});

describe("signed desired state and artifacts from the object store", () => {
  let root: string;
  let cluster: TestCluster;
  const keys = generateKeyPairSync("ed25519");
  const other = generateKeyPairSync("ed25519");

  beforeAll(async () => {
    root = await makeFileTempDir();
    const publicKey = join(root, "trusted.pub.pem");
    await writeFile(publicKey, keys.publicKey.export({ type: "spki", format: "pem" }));
    await writeFile(join(root, "signing.pem"), keys.privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(join(root, "other.pem"), other.privateKey.export({ type: "pkcs8", format: "pem" }));
    cluster = await startCluster(root, {
      nodes: 1,
      version: "1.0.0",
      lifetime: "file",
      agentsWithoutCatalog: true,
      agentExtra: () => ({ unattended: { pollIntervalMs: 3000, heartbeatMs: 500, backoffMs: 1000, publicKeys: [publicKey] } }),
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("refuses unsigned and wrongly signed documents, then upgrades from a signed one with the artifact from the object store", async () => {
    const store = new UnattendedStore(await openUnattendedBucket(cluster.nc), cluster.nc);
    const push = await cluster.hoist(["release", "push", "--catalog", cluster.catalog, "--cluster", cluster.cluster, "--sign-key", join(root, "signing.pem")]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/pushed 6 artifact/);
    const doc = await writeYaml(join(root, "rollout.yaml"), { cluster: cluster.cluster, service: "kv", target: "1.1.0", waves: [{ name: "all" }] });
    const report = async () => (await store.readRollout(cluster.cluster, "kv")).nodes.find((entry) => entry.node === "n1");

    expect((await cluster.hoist(["unattended", "set", "-f", doc])).code).toBe(0);
    await waitFor(async () => (await report())?.reason === "signature-invalid", { timeoutMs: 20_000, what: "the unsigned document refused" });
    expect(cluster.nodes[0]!.log.join("")).toMatch(/SIGNATURE_INVALID|is not signed/);

    expect((await cluster.hoist(["unattended", "set", "-f", doc, "--sign-key", join(root, "other.pem")])).code).toBe(0);
    await waitFor(
      async () => {
        const entry = await report();
        return entry?.reason === "signature-invalid" && (await store.readDesired(cluster.cluster, "kv"))?.value.signature !== undefined;
      },
      { timeoutMs: 20_000, what: "the document signed by an untrusted key refused" },
    );
    expect(await cluster.nodes[0]!.kv.version().then((info) => info.version)).toBe("1.0.0");

    expect((await cluster.hoist(["unattended", "set", "-f", doc, "--sign-key", join(root, "signing.pem")])).code).toBe(0);
    await waitFor(async () => (await cluster.nodes[0]!.kv.version()).version === "1.1.0", { timeoutMs: 60_000, what: "n1 on 1.1.0" });
  }, 120_000);

  it("a held node waits with reason held until the hold is lifted; a pin keeps it where it is, a pin to an older version is refused at pin time", async () => {
    const store = new UnattendedStore(await openUnattendedBucket(cluster.nc), cluster.nc);
    const flags = ["--cluster", cluster.cluster, "--service", "kv"];
    expect((await cluster.hoist(["unattended", "hold", "n1", "--until", "1h", "--reason", "audit", ...flags])).code).toBe(0);
    const doc = await writeYaml(join(root, "rollout-held.yaml"), { cluster: cluster.cluster, service: "kv", target: "1.1.1", waves: [{ name: "all" }] });
    expect((await cluster.hoist(["unattended", "set", "-f", doc, "--sign-key", join(root, "signing.pem")])).code).toBe(0);
    const held = await waitFor(
      async () => {
        const report = (await store.readRollout(cluster.cluster, "kv")).nodes.find((entry) => entry.node === "n1");
        return report?.reason === "held" ? report : undefined;
      },
      { timeoutMs: 20_000, what: "n1 held" },
    );
    expect(held.nextEligibleAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("1.1.0");
    const readReport = async () => (await store.readRollout(cluster.cluster, "kv")).nodes.find((entry) => entry.node === "n1");
    // Pinned to what it runs, the node stays there once the hold is lifted.
    const pin = await cluster.hoist(["unattended", "pin", "n1", "1.1.0", ...flags]);
    expect(pin.code, pin.stderr).toBe(0);
    expect((await cluster.hoist(["unattended", "hold", "n1", "--until", "0s", "--reason", "audit done", ...flags])).code).toBe(0);
    await waitFor(async () => (await readReport())?.reason === "pinned", { timeoutMs: 20_000, what: "n1 pinned" });
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("1.1.0");
    // A pin to an older version is refused when it is given (the engine never downgrades unattended), not left to back off.
    const older = await cluster.hoist(["unattended", "pin", "n1", "1.0.0", ...flags]);
    expect(older.code).not.toBe(0);
    expect(older.stderr).toMatch(/n1 runs 1\.1\.0, and 1\.0\.0 is older[\s\S]*rollback --to 1\.0\.0/);
    expect((await store.readRollout(cluster.cluster, "kv")).control.value.pins).toEqual({ n1: "1.1.0" });
    expect((await cluster.hoist(["unattended", "pin", "n1", ...flags])).code).toBe(0);
    await waitFor(async () => (await cluster.nodes[0]!.kv.version()).version === "1.1.1", { timeoutMs: 60_000, what: "n1 on 1.1.1 once unpinned" });
  }, 120_000);

  it("an artifact missing from the object store is an environment failure: backed off, not charged, retried once it is back", async () => {
    const store = new UnattendedStore(await openUnattendedBucket(cluster.nc), cluster.nc);
    const objects = await cluster.nc.jetstream().views.os(OBJECT_ARTIFACTS);
    const sha256 = (await readFile(join(SAMPLE_RELEASES_DIR, "catalog.yaml"), "utf8")).match(/version: 2\.0\.0[\s\S]*?sha256: ([0-9a-f]{64})/)![1]!;
    await objects.delete(sha256);
    const doc = await writeYaml(join(root, "rollout-missing.yaml"), { cluster: cluster.cluster, service: "kv", target: "2.0.0", waves: [{ name: "all" }] });
    expect((await cluster.hoist(["unattended", "set", "-f", doc, "--sign-key", join(root, "signing.pem")])).code).toBe(0);
    await waitFor(async () => (await store.readRollout(cluster.cluster, "kv")).nodes.find((entry) => entry.node === "n1" && entry.backoffAttempts >= 1), { timeoutMs: 30_000, what: "n1 backing off" }).catch(
      async (err: unknown) => {
        throw new Error(`${(err as Error).message}: ${JSON.stringify((await store.readRollout(cluster.cluster, "kv")).nodes)} ${cluster.nodes[0]!.log.join("").slice(-3000)}`);
      },
    );
    expect((await store.readRollout(cluster.cluster, "kv")).control.value.failures).toEqual([]);
    expect((await cluster.nodes[0]!.kv.version()).version).toBe("1.1.1");
    const push = await cluster.hoist(["release", "push", "--catalog", cluster.catalog, "--cluster", cluster.cluster, "--sign-key", join(root, "signing.pem")]);
    expect(push.stdout).toMatch(/pushed 1 artifact/);
    await waitFor(async () => (await cluster.nodes[0]!.kv.version()).version === "2.0.0", { timeoutMs: 60_000, what: "n1 on 2.0.0 after the artifact is back" });
    expect((await store.readRollout(cluster.cluster, "kv")).control.value.failures).toEqual([]);
  }, 120_000);
});
