import { get } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "nats";
import { encodeJson, rolloutEventsSubject } from "../shared/bus/index.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { runHoist, startHoist, type RunningHoist } from "./helpers/hoist-cli.ts";
import { waitFor } from "./helpers/wait-for.ts";

let nats: NatsServerHandle | undefined;
let dashboard: RunningHoist | undefined;
afterEach(async () => {
  if (dashboard) {
    dashboard.kill("SIGTERM");
    await dashboard.done;
  }
  dashboard = undefined;
  await nats?.stop();
  nats = undefined;
});

async function startDashboardProcess(args: string[]): Promise<string> {
  nats = await startNatsServer();
  const run = startHoist(["dashboard", "--nats", nats.url, ...args]);
  dashboard = run;
  return waitFor(() => /dashboard on (\S+)/.exec(run.output().stdout)?.[1], { timeoutMs: 30_000, what: "the dashboard's URL" });
}

/** GET with a Host header of our choosing (fetch does not let a caller set it): what a page under a rebinding DNS name sends. */
function statusUnderHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(new URL("/api/fleet", url), { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).once("error", reject);
  });
}

function control(url: string, headers: Record<string, string>): Promise<Response> {
  return fetch(new URL("/api/rollouts/prod/r1/pause", url), { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
}

describe("who may steer rollouts through the dashboard (real hoist dashboard process, real nats-server)", () => {
  it("refuses to listen on an address other machines can reach without a token", async () => {
    const result = await runHoist(["dashboard", "--http", "0.0.0.0:0", "--nats", "nats://127.0.0.1:1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/INVALID_ARGUMENT.*without a token; set --http-token/);
  });

  it("the coordinator refuses a non-loopback --http without a token before it starts anything", async () => {
    const result = await runHoist(["coordinator", "--http", "0.0.0.0:0", "--nats", "nats://127.0.0.1:1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/without a token; set --http-token/);
  });

  it("hoist coordinator --http serves the dashboard beside the daemon", async () => {
    nats = await startNatsServer();
    const run = startHoist(["coordinator", "--nats", nats.url, "--http", "127.0.0.1:0", "--log-level", "warn"]);
    dashboard = run;
    const url = await waitFor(() => /dashboard on (\S+)/.exec(run.output().stdout)?.[1], { timeoutMs: 30_000, what: "the coordinator's dashboard URL" });
    expect(await fetch(url).then((r) => r.text())).toContain("<title>Hoist dashboard</title>");
    expect(await fetch(new URL("/api/rollouts", url)).then((r) => r.json())).toEqual({ rollouts: [] });
    expect(await fetch(new URL("/app.js", url)).then((r) => r.headers.get("content-type"))).toMatch(/^text\/javascript/);
  });

  it("with a token, controls need it as a bearer token from the page's own origin; reads stay open", async () => {
    const url = await startDashboardProcess(["--http", "127.0.0.1:0", "--http-token", "s3cret-token"]);
    expect((await fetch(new URL("/api/config", url)).then((r) => r.json())).tokenRequired).toBe(true);
    expect((await fetch(new URL("/api/fleet", url))).status).toBe(200);

    expect((await control(url, {})).status).toBe(401);
    expect((await control(url, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await control(url, { authorization: "Bearer s3cret-token", origin: "http://evil.example" })).status).toBe(401);
    // The right token gets through to requestControl, which finds no such rollout.
    const allowed = await control(url, { authorization: "Bearer s3cret-token" });
    expect(allowed.status).toBe(404);
    expect((await allowed.json()).error.code).toBe("NOT_FOUND");
  });

  it("on loopback without a token controls work, but not as a form post nor under another host name", async () => {
    const url = await startDashboardProcess(["--http", "127.0.0.1:0"]);
    expect((await fetch(new URL("/api/config", url)).then((r) => r.json())).tokenRequired).toBe(false);
    expect((await control(url, {})).status).toBe(404);
    const form = await fetch(new URL("/api/rollouts/prod/r1/pause", url), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1" });
    expect(form.status).toBe(401);
    expect(await statusUnderHost(url, "evil.example:80")).toBe(401);
    expect(await statusUnderHost(url, `localhost:${new URL(url).port}`)).toBe(200);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Hoist dashboard</title>");
  });

  it("the live stream sends the stream's recent events with their sequence as id, and resumes after Last-Event-ID", async () => {
    const url = await startDashboardProcess(["--http", "127.0.0.1:0"]);
    const nc = await connect({ servers: nats!.url });
    try {
      const js = nc.jetstream();
      for (const message of ["one", "two", "three"]) await js.publish(rolloutEventsSubject("prod"), encodeJson({ type: "transition", cluster: "prod", rollout: "r1", phase: "running", message, at: new Date().toISOString() }));
      expect(await firstEvents(url, {}, 3)).toEqual([
        { id: "1", message: "one" },
        { id: "2", message: "two" },
        { id: "3", message: "three" },
      ]);
      expect(await firstEvents(url, { "last-event-id": "2" }, 1)).toEqual([{ id: "3", message: "three" }]);
    } finally {
      await nc.close();
    }
  });
});

/** The first `count` `hoist` events of GET /api/events, as id and message; the stream is closed after. */
async function firstEvents(url: string, headers: Record<string, string>, count: number): Promise<{ id: string; message: string }[]> {
  const abort = new AbortController();
  const response = await fetch(new URL("/api/events", url), { headers, signal: abort.signal });
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const events: { id: string; message: string }[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  const timer = setTimeout(() => abort.abort(), 15_000);
  try {
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]));
        if (fields.event === "hoist") events.push({ id: fields.id!, message: JSON.parse(fields.data!).event.message });
      }
      if (events.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}
