import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, writeYaml, type TestCluster } from "./helpers/cluster.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { isTerminal } from "../coordinator/rollout/state.ts";

let cluster: TestCluster | undefined;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await cluster?.stop();
  await receiver?.close();
  cluster = undefined;
  receiver = undefined;
});

describe("announcements of rollouts to webhooks (coordinator daemon, 2 agent processes, real HTTP receiver)", () => {
  it("posts started / node out of service / rolled back / failed / finished to a Mattermost-style and a JSON webhook, retries a 500, and a webhook that never answers blocks nothing", { timeout: 180_000 }, async () => {
    const root = await makeTempDir();
    receiver = await startWebhookReceiver({ "/mattermost": "fail-every-other", "/json": "ok", "/hang": "hang" });
    const urlFile = join(root, "mattermost-url");
    await writeFile(urlFile, `${receiver.url("/mattermost")}\n`, { mode: 0o600 });
    const config = await writeYaml(join(root, "coordinator.yaml"), {
      announce: {
        webhooks: [
          { name: "mattermost", urlFile: "mattermost-url", format: "slack", channel: "town-square", username: "hoist", retries: 2, retryDelayMs: 50 },
          { name: "ops-json", url: receiver.url("/json"), format: "json" },
          { name: "dead", url: receiver.url("/hang"), format: "json", timeoutMs: 300, retries: 1, retryDelayMs: 50 },
        ],
      },
    });
    cluster = await startCluster(root, { nodes: 2, version: "1.1.1" });
    const daemon = cluster.spawnHoist(["coordinator", "--config", config, "--agent-insecure", "--log-level", "warn"]);
    await waitFor(() => /coordinator \S+ on /.test(daemon.output()), { timeoutMs: 30_000, what: "the coordinator daemon to start" });

    // 1.2.0 crashes after start: n1 is rolled back and the rollout fails.
    const failing = await cluster.hoist(cluster.rolloutArgs("1.2.0", ["--detach"]));
    expect(failing.code, failing.stderr).toBe(0);
    const failed = await cluster.waitRollout((state) => isTerminal(state.phase), { timeoutMs: 90_000, what: "the 1.2.0 rollout to end" });
    expect(failed.phase).toBe("failed");
    const kindsOf = (id: string) => (receiver!.delivered("/json") as { kind: string; rollout: string; node?: string }[]).filter((post) => post.rollout === id).map((post) => `${post.kind}${post.node ? ` ${post.node}` : ""}`);
    await waitFor(() => kindsOf(failed.id).includes("failed"), { timeoutMs: 30_000, what: "the failed announcement" });
    expect(kindsOf(failed.id)).toEqual(["started", "node-out-of-service n1", "rolled-back n1", "failed"]);

    // 2.0.0 is a full stop: both nodes out of service, then finished.
    const succeeding = await cluster.hoist(cluster.rolloutArgs("2.0.0", ["--detach"]));
    expect(succeeding.code, succeeding.stderr).toBe(0);
    const done = await cluster.waitRollout((state) => state.id !== failed.id && isTerminal(state.phase), { timeoutMs: 120_000, what: "the 2.0.0 rollout to end" });
    expect(done.phase).toBe("succeeded");
    await waitFor(() => kindsOf(done.id).includes("finished"), { timeoutMs: 30_000, what: "the finished announcement" });
    // the nodes of a full-stop hop stop side by side: in either order
    const kinds = kindsOf(done.id);
    expect([kinds[0], kinds[3]]).toEqual(["started", "finished"]);
    expect(kinds.slice(1, 3).sort()).toEqual(["node-out-of-service n1", "node-out-of-service n2"]);

    await waitFor(() => receiver!.delivered("/mattermost").length >= 8, { timeoutMs: 10_000, what: "every announcement on the Mattermost webhook" });
    // The Mattermost webhook got the same announcements as incoming-webhook bodies, each after one retry of a 500.
    const texts = (receiver.delivered("/mattermost") as { text: string; channel: string; username: string }[]).map((post) => {
      expect(post).toMatchObject({ channel: "town-square", username: "hoist" });
      return post.text;
    });
    expect(texts).toHaveLength(8);
    expect(texts[0]).toBe(`Upgrade started: kv -> 1.2.0 on cluster ${cluster.cluster} (rollout ${failed.id})`);
    expect(texts[1]).toBe(`Node n1 is out of service for its upgrade (drain): kv -> 1.2.0 on cluster ${cluster.cluster} (rollout ${failed.id})`);
    expect(texts[3]).toMatch(/^Upgrade FAILED: kv -> 1\.2\.0 .*upgrade failed on node n1/);
    expect(texts[7]).toMatch(/^Upgrade finished: kv -> 2\.0\.0 .*every node runs 2\.0\.0/);
    expect(receiver.posts.filter((post) => post.path === "/mattermost" && post.status === 500)).toHaveLength(8);
    // The dead webhook was tried twice per announcement and given up on; the rollouts went on regardless.
    await waitFor(() => receiver!.posts.filter((post) => post.path === "/hang").length >= 16, { timeoutMs: 10_000, what: "two attempts per announcement on the dead webhook" });
    expect(receiver.posts.filter((post) => post.path === "/hang")).toHaveLength(16);
    for (const node of cluster.nodes) expect((await node.kv.version()).version).toBe("2.0.0");
  });
});
