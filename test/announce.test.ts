import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCoordinatorConfig } from "../coordinator/config.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { classifyEvent } from "../coordinator/announce/classify.ts";
import { postWebhook } from "../coordinator/announce/post-webhook.ts";
import { webhookBody } from "../coordinator/announce/webhook-body.ts";
import type { RolloutEvent } from "../coordinator/rollout/events.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";

const base = { rollout: "r1", cluster: "prod", service: "mattermost", to: "9.11.0", at: "2026-12-01T12:00:00.000Z", message: "m" } as const;
const transition = (phase: RolloutEvent["phase"], message = "m"): RolloutEvent => ({ ...base, type: "transition", phase, message });
const step = (name: string, outcome: NonNullable<RolloutEvent["outcome"]>): RolloutEvent => ({ ...base, type: "step", phase: "running", node: "n1", key: "k", step: name, outcome, message: `n1: ${name} ${outcome}` });

describe("which rollout events are announced (pure)", () => {
  it.each([
    [transition("preflight"), "started"],
    [transition("running"), undefined],
    [transition("paused"), undefined],
    [transition("waiting-promote"), undefined],
    [transition("succeeded"), "finished"],
    [transition("aborted"), "finished"],
    [transition("failed"), "failed"],
    [transition("reverted"), "rolled-back"],
    [step("drain", "ok"), "node-out-of-service"],
    [step("stop", "ok"), "node-out-of-service"],
    [step("stage", "ok"), undefined],
    [step("upgrade", "ok"), undefined],
    [step("verify", "ok"), undefined],
    [step("upgrade", "rolled-back"), "rolled-back"],
    [step("rollback", "ok"), "rolled-back"],
    [step("upgrade", "failed"), "failed"],
    [step("verify", "timed-out"), "failed"],
  ] as const)("%o -> %s", (event, kind) => {
    expect(classifyEvent(event)?.kind).toBe(kind);
  });

  it("says what, where and which node in one line", () => {
    expect(classifyEvent(step("drain", "ok"))!.text).toBe("Node n1 is out of service for its upgrade (drain): mattermost -> 9.11.0 on cluster prod (rollout r1)");
    expect(classifyEvent(transition("failed", "upgrade failed on node n1"))!.text).toBe("Upgrade FAILED: mattermost -> 9.11.0 on cluster prod (rollout r1): upgrade failed on node n1");
  });

  it("builds a Mattermost/Slack incoming-webhook body and a generic JSON body", () => {
    const announcement = classifyEvent(transition("preflight"))!;
    expect(webhookBody({ format: "slack", channel: "town-square", username: "hoist" }, announcement)).toEqual({
      text: "Upgrade started: mattermost -> 9.11.0 on cluster prod (rollout r1)",
      channel: "town-square",
      username: "hoist",
    });
    expect(webhookBody({ format: "json" }, announcement)).toMatchObject({ source: "hoist", kind: "started", rollout: "r1", cluster: "prod", service: "mattermost", to: "9.11.0", event: { type: "transition", phase: "preflight" } });
  });
});

describe("postWebhook against a real local HTTP receiver", () => {
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it("retries a 500 and delivers on the next attempt, as JSON", async () => {
    receiver = await startWebhookReceiver({ "/flaky": "fail-every-other" });
    const result = await postWebhook(receiver.url("/flaky"), { text: "hello" }, { timeoutMs: 2000, retries: 2, retryDelayMs: 10 });
    expect(result).toMatchObject({ ok: true, attempts: 2, status: 200 });
    expect(receiver.posts.map((post) => [post.status, post.contentType, post.body])).toEqual([
      [500, "application/json", { text: "hello" }],
      [200, "application/json", { text: "hello" }],
    ]);
  });

  it("gives up on a receiver that never answers after its retries, each attempt cut at the timeout, without throwing", async () => {
    receiver = await startWebhookReceiver({ "/hang": "hang" });
    const result = await postWebhook(receiver.url("/hang"), { text: "hello" }, { timeoutMs: 200, retries: 1, retryDelayMs: 10 });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(2);
    expect(result.error).toMatch(/no answer within 200 ms/);
    expect(receiver.posts).toHaveLength(2);
  });

  it("does not retry a 400 (the body or URL is wrong; trying again changes nothing)", async () => {
    receiver = await startWebhookReceiver({ "/bad": "bad-request" });
    const result = await postWebhook(receiver.url("/bad"), { text: "hello" }, { timeoutMs: 2000, retries: 3, retryDelayMs: 10 });
    expect(result).toMatchObject({ ok: false, attempts: 1, status: 400, error: "answered HTTP 400" });
  });

  it("gives up when nothing listens, after its retries", async () => {
    receiver = await startWebhookReceiver({});
    const url = receiver.url("/gone");
    await receiver.close();
    receiver = undefined;
    const result = await postWebhook(url, { text: "hello" }, { timeoutMs: 1000, retries: 2, retryDelayMs: 10 });
    expect(result).toMatchObject({ ok: false, attempts: 3 });
  });
});

describe("the coordinator's config file (announce.webhooks)", () => {
  it("reads a webhook URL from urlFile, and refuses a webhook with both url and urlFile or an unreadable urlFile, naming the path", async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, "url"), "https://chat.example.com/hooks/abc123\n");
    await writeFile(join(dir, "ok.yaml"), "announce:\n  webhooks:\n    - { name: mm, urlFile: url }\n");
    const loaded = await loadCoordinatorConfig(join(dir, "ok.yaml"));
    expect(loaded.webhooks).toEqual([expect.objectContaining({ name: "mm", url: "https://chat.example.com/hooks/abc123", format: "slack", retries: 3, timeoutMs: 5000 })]);
    await writeFile(join(dir, "both.yaml"), "announce:\n  webhooks:\n    - { name: mm, url: 'https://a.example/x', urlFile: url }\n");
    await expect(loadCoordinatorConfig(join(dir, "both.yaml"))).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining("announce.webhooks.0: give exactly one of url and urlFile") });
    await writeFile(join(dir, "missing.yaml"), "announce:\n  webhooks:\n    - { name: mm, urlFile: nope }\n");
    await expect(loadCoordinatorConfig(join(dir, "missing.yaml"))).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining("announce.webhooks.0.urlFile") });
  });
});
