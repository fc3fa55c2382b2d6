import { rejection } from "./helpers/rejection.ts";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { ProbeConfig } from "../agent/config.ts";
import type { ServingStatus } from "../agent/node-agent-api.ts";
import { checkProbe, createLogProbeState, createLogProbeStates, HealthMonitor, waitHealthy, type ProbeResult } from "../agent/health/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface TestHttpServer {
  url: string;
  status: number;
  requests: number;
}

/** A real HTTP server on 127.0.0.1 answering `status` (changeable) on every path. */
async function startHttp(status = 200): Promise<TestHttpServer> {
  const state = { url: "", status, requests: 0 };
  const server: Server = createHttpServer((_req, res) => {
    state.requests += 1;
    res.writeHead(state.status, { "content-type": "text/plain" }).end(`status ${state.status}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  cleanups.push(() => closeHttp(server));
  return state;
}

/** A real HTTP server that accepts requests and never answers. */
async function startSilentHttp(): Promise<string> {
  const server = createHttpServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => closeHttp(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function startTcp(): Promise<number> {
  const server = createTcpServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A port that was just free: nothing listens on it. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const http = (url: string, expectStatus = 200): ProbeConfig => ({ type: "http", url, expectStatus, timeoutMs: 2000 });
const log = (file: string, patterns: { failPattern?: string; readyPattern?: string }): ProbeConfig => ({ type: "log", file, ...patterns });

describe("checkProbe", () => {
  it("http: healthy on the expected status, unhealthy on 500", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(200);
    const ok = await checkProbe(http(server.url), { cwd, env: {} });
    expect(ok).toEqual({ healthy: true, probe: `http ${server.url}`, detail: "HTTP 200" });

    server.status = 500;
    const bad = await checkProbe(http(server.url), { cwd, env: {} });
    expect(bad.healthy).toBe(false);
    expect(bad.detail).toBe("HTTP 500, expected 200");

    server.status = 204;
    expect((await checkProbe(http(server.url, 204), { cwd, env: {} })).healthy).toBe(true);
  });

  it("http: unhealthy when nothing listens or no answer comes within the timeout", async () => {
    const cwd = await makeTempDir();
    const refused = await checkProbe(http(`http://127.0.0.1:${await closedPort()}/`), { cwd, env: {} });
    expect(refused.healthy).toBe(false);
    expect(refused.detail).toContain("ECONNREFUSED");

    const silent = await startSilentHttp();
    const hung = await checkProbe({ type: "http", url: silent, expectStatus: 200, timeoutMs: 200 }, { cwd, env: {} });
    expect(hung).toMatchObject({ healthy: false, detail: "no response within 200 ms" });
  });

  it("tcp: healthy when a listener accepts, unhealthy on a closed port", async () => {
    const cwd = await makeTempDir();
    const port = await startTcp();
    expect(await checkProbe({ type: "tcp", host: "127.0.0.1", port, timeoutMs: 2000 }, { cwd, env: {} })).toEqual({
      healthy: true,
      probe: `tcp 127.0.0.1:${port}`,
      detail: "connected",
    });
    const closed = await checkProbe({ type: "tcp", host: "127.0.0.1", port: await closedPort(), timeoutMs: 2000 }, { cwd, env: {} });
    expect(closed.healthy).toBe(false);
    expect(closed.detail).toContain("ECONNREFUSED");
  });

  it("command: healthy on exit 0, unhealthy on non-zero, timeout or missing program", async () => {
    const cwd = await makeTempDir();
    const probe = (run: string[], timeoutMs = 5000): ProbeConfig => ({ type: "command", run, timeoutMs });
    expect(await checkProbe(probe(["sh", "-c", 'test "$MODE" = ok']), { cwd, env: { MODE: "ok" } })).toMatchObject({ healthy: true, detail: "exit 0" });
    expect(await checkProbe(probe(["sh", "-c", "echo not ready >&2; exit 2"]), { cwd, env: {} })).toMatchObject({
      healthy: false,
      detail: "exit 2: not ready",
    });
    expect(await checkProbe(probe(["sleep", "60"], 200), { cwd, env: {} })).toMatchObject({ healthy: false, detail: "no result within 200 ms (killed)" });
    const missing = await checkProbe(probe(["bin/healthcheck"]), { cwd, env: {} });
    expect(missing.healthy).toBe(false);
    expect(missing.detail).toContain("bin/healthcheck");
  });

  it("throws CANCELLED when the caller's signal aborts", async () => {
    const cwd = await makeTempDir();
    const controller = new AbortController();
    const check = checkProbe({ type: "command", run: ["sleep", "60"], timeoutMs: 60_000 }, { cwd, env: {}, signal: controller.signal });
    setImmediate(() => controller.abort());
    expect((await rejection(check)).code).toBe("CANCELLED");
  });

  it("log: only appended lines count; a fail line is fatal and stays so", async () => {
    const dir = await makeTempDir();
    const file = join(dir, "service.log");
    await writeFile(file, "FATAL from the previous run\nstarted\n");
    const probe = log(file, { failPattern: "FATAL" });
    const logState = await createLogProbeState(file);
    const ctx = { cwd: dir, env: {}, logState };

    expect(await checkProbe(probe, ctx)).toMatchObject({ healthy: true, probe: `log ${file}` });
    await appendFile(file, "serving requests\n");
    expect((await checkProbe(probe, ctx)).healthy).toBe(true);
    await appendFile(file, "FATAL: disk full\n");
    expect(await checkProbe(probe, ctx)).toEqual({ healthy: false, fatal: true, probe: `log ${file}`, detail: "fail line: FATAL: disk full" });
    await appendFile(file, "all good again\n");
    expect(await checkProbe(probe, ctx)).toMatchObject({ healthy: false, fatal: true });
  });

  it("log: with readyPattern not healthy until the ready line, even when the file appears later", async () => {
    const dir = await makeTempDir();
    const file = join(dir, "logs", "startup.log");
    const probe = log(file, { readyPattern: "^ready on port \\d+$", failPattern: "panic" });
    const logState = await createLogProbeState(file);
    const ctx = { cwd: dir, env: {}, logState };

    expect(await checkProbe(probe, ctx)).toMatchObject({ healthy: false, detail: `${file} does not exist yet` });
    await mkdir(join(dir, "logs"));
    await writeFile(file, "loading\n");
    expect((await checkProbe(probe, ctx)).detail).toMatch(/no line matching/);
    await appendFile(file, "ready on port 80");
    expect((await checkProbe(probe, ctx)).healthy).toBe(false);
    await appendFile(file, "80\r\n");
    expect(await checkProbe(probe, ctx)).toMatchObject({ healthy: true, detail: "ready line: ready on port 8080" });
  });

  it("log: reads a rotated or truncated file from its start", async () => {
    const dir = await makeTempDir();
    const file = join(dir, "service.log");
    await writeFile(file, "x".repeat(1000) + "\n");
    const probe = log(file, { readyPattern: "ready", failPattern: "FATAL" });
    const logState = await createLogProbeState(file);
    const ctx = { cwd: dir, env: {}, logState };
    expect((await checkProbe(probe, ctx)).healthy).toBe(false);

    await rename(file, `${file}.1`);
    await writeFile(file, "ready\n");
    expect((await checkProbe(probe, ctx)).healthy).toBe(true);

    // copytruncate, then the service writes more than was there before the next check
    await writeFile(file, "FATAL after copytruncate\n");
    expect(await checkProbe(probe, ctx)).toMatchObject({ healthy: false, fatal: true });

    const other = join(dir, "other.log");
    await writeFile(other, "y".repeat(1000) + "\n");
    const otherProbe = log(other, { readyPattern: "ready" });
    const otherCtx = { cwd: dir, env: {}, logState: await createLogProbeState(other) };
    expect((await checkProbe(otherProbe, otherCtx)).healthy).toBe(false);
    await writeFile(other, "ready\n"); // truncated to less than was read
    expect((await checkProbe(otherProbe, otherCtx)).healthy).toBe(true);
  });
});

describe("waitHealthy", () => {
  it("returns once every probe held healthy for minHealthyMs, reporting progress up to 100", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(200);
    const port = await startTcp();
    const progress: Progress[] = [];
    const outcome = await waitHealthy([http(server.url), { type: "tcp", host: "127.0.0.1", port, timeoutMs: 2000 }], {
      minHealthyMs: 300,
      healthyDeadlineMs: 10_000,
      intervalMs: 50,
      cwd,
      env: {},
      onProgress: (p) => progress.push(p),
    });
    expect(outcome.healthyForMs).toBeGreaterThanOrEqual(300);
    expect(outcome.checks).toBeGreaterThanOrEqual(2);
    expect(progress.every((p) => p.step === "verify")).toBe(true);
    expect(progress.at(-1)?.percent).toBe(100);
  });

  it("resets the streak when the server flips to 500 and succeeds once it holds again", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(200);
    const percents: number[] = [];
    let phase: "first" | "flipped" | "recovered" = "first";
    const outcome = await waitHealthy([http(server.url)], {
      minHealthyMs: 300,
      healthyDeadlineMs: 20_000,
      intervalMs: 50,
      cwd,
      env: {},
      onProgress: (p) => {
        percents.push(p.percent ?? -1);
        if (phase === "first" && (p.percent ?? 0) > 0) {
          server.status = 500;
          phase = "flipped";
        } else if (phase === "flipped" && p.message?.includes("HTTP 500")) {
          server.status = 200;
          phase = "recovered";
        }
      },
    });
    expect(phase).toBe("recovered");
    const firstPositive = percents.findIndex((p) => p > 0);
    expect(percents.slice(firstPositive + 1)).toContain(0);
    expect(percents.at(-1)).toBe(100);
    expect(outcome.healthyForMs).toBeGreaterThanOrEqual(300);
  });

  it("fails with HEALTH_CHECK_FAILED naming the probe when the deadline passes", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(500);
    const err = await rejection(waitHealthy([http(server.url)], { minHealthyMs: 200, healthyDeadlineMs: 400, intervalMs: 50, cwd, env: {}, service: "kv" }));
    expect(err.code).toBe("HEALTH_CHECK_FAILED");
    expect(err.message).toContain(`kv did not stay healthy for 200 ms within 400 ms: http ${server.url} -> HTTP 500, expected 200`);
    expect((err.details.results as ProbeResult[])[0]).toMatchObject({ healthy: false, detail: "HTTP 500, expected 200" });
    expect(server.requests).toBeGreaterThan(1);
  });

  it("fails at once on a fatal log line logged after the call, long before the deadline", { timeout: 20_000 }, async () => {
    const cwd = await makeTempDir();
    const file = join(cwd, "service.log");
    await writeFile(file, "FATAL old line from before the call\n");
    const server = await startHttp(200);
    let wrote = false;
    const err = await rejection(
      waitHealthy([http(server.url), log(file, { failPattern: "FATAL" })], {
        minHealthyMs: 60_000,
        healthyDeadlineMs: 60_000,
        intervalMs: 50,
        cwd,
        env: {},
        service: "kv",
        onProgress: () => {
          if (wrote) return;
          wrote = true;
          void appendFile(file, "FATAL: cannot open data dir\n");
        },
      }),
    );
    expect(err.code).toBe("HEALTH_CHECK_FAILED");
    expect(err.message).toContain(`kv failed its health check: log ${file} -> fail line: FATAL: cannot open data dir`);
  });

  it("counts a ready line logged before the call only with log states taken earlier", async () => {
    const cwd = await makeTempDir();
    const file = join(cwd, "service.log");
    const probes = [log(file, { readyPattern: "listening" })];
    const logStates = await createLogProbeStates(probes);
    await writeFile(file, "listening\n"); // logged by the start hook, before verify
    const outcome = await waitHealthy(probes, { minHealthyMs: 100, healthyDeadlineMs: 5000, intervalMs: 20, cwd, env: {}, logStates });
    expect(outcome.healthyForMs).toBeGreaterThanOrEqual(100);

    const err = await rejection(waitHealthy(probes, { minHealthyMs: 100, healthyDeadlineMs: 300, intervalMs: 20, cwd, env: {} }));
    expect(err.code).toBe("HEALTH_CHECK_FAILED");
    expect(err.message).toContain("no line matching /listening/ yet");
  });

  it("lets one state keyed by file path serve two log probes on that file", async () => {
    const cwd = await makeTempDir();
    const file = join(cwd, "service.log");
    const probes = [log(file, { readyPattern: "listening" }), log(file, { readyPattern: "joined cluster", failPattern: "split brain" })];
    const logStates = new Map([[file, await createLogProbeState(file)]]);
    await writeFile(file, "listening\njoined cluster\n");
    const outcome = await waitHealthy(probes, { minHealthyMs: 50, healthyDeadlineMs: 5000, intervalMs: 20, cwd, env: {}, logStates });
    expect(outcome.healthyForMs).toBeGreaterThanOrEqual(50);
  });

  it("throws CANCELLED or TIMEOUT per the signal's reason", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(500);
    const options = { minHealthyMs: 100, healthyDeadlineMs: 60_000, intervalMs: 50, cwd, env: {} };
    const controller = new AbortController();
    const cancelled = waitHealthy([http(server.url)], { ...options, signal: controller.signal, onProgress: () => controller.abort() });
    expect((await rejection(cancelled)).code).toBe("CANCELLED");
    const timedOut = waitHealthy([http(server.url)], { ...options, signal: AbortSignal.timeout(200) });
    expect((await rejection(timedOut)).code).toBe("TIMEOUT");
  });
});

describe("HealthMonitor", () => {
  function track(monitor: HealthMonitor): { changes: ServingStatus[]; checks: () => number } {
    const changes: ServingStatus[] = [];
    let checks = 0;
    monitor.on("change", (status) => changes.push(status));
    monitor.on("check", () => (checks += 1));
    cleanups.push(() => monitor.stop());
    return { changes, checks: () => checks };
  }

  it("goes UNKNOWN -> SERVING -> NOT_SERVING -> SERVING as the server flips, emitting only changes", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(200);
    const monitor = new HealthMonitor({ probes: [http(server.url)], intervalMs: 20, cwd, env: {} });
    const { changes, checks } = track(monitor);
    expect(monitor.status).toBe("UNKNOWN");
    monitor.start();
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING" });
    const afterServing = checks();
    await waitFor(() => checks() >= afterServing + 3, { what: "more checks" });
    server.status = 500;
    await waitFor(() => monitor.status === "NOT_SERVING", { what: "NOT_SERVING" });
    expect(monitor.lastResults[0]?.detail).toBe("HTTP 500, expected 200");
    server.status = 200;
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING again" });
    expect(changes).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
  });

  it("hold forces NOT_SERVING while checks continue; release returns to the probes' verdict", async () => {
    const cwd = await makeTempDir();
    const server = await startHttp(200);
    const monitor = new HealthMonitor({ probes: [http(server.url)], intervalMs: 20, cwd, env: {} });
    const { changes, checks } = track(monitor);
    const reasons: string[] = [];
    monitor.on("change", (_status, change) => reasons.push(change.reason));
    monitor.start();
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING" });

    monitor.hold("NOT_SERVING", "upgrading to 2.0.0");
    expect(monitor.status).toBe("NOT_SERVING");
    expect(monitor.held).toEqual({ status: "NOT_SERVING", reason: "upgrading to 2.0.0" });
    const during = checks();
    await waitFor(() => checks() >= during + 3, { what: "checks during the hold" });
    expect(monitor.status).toBe("NOT_SERVING");
    expect(monitor.lastResults[0]?.healthy).toBe(true);

    monitor.release();
    expect(monitor.held).toBeUndefined();
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING after release" });
    expect(changes).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
    expect(reasons[1]).toBe("upgrading to 2.0.0");
  });

  it("log probe: fail lines during a hold do not count after release; later ones do and stick", async () => {
    const cwd = await makeTempDir();
    const file = join(cwd, "service.log");
    await writeFile(file, "FATAL before the monitor started\n");
    const monitor = new HealthMonitor({ probes: [log(file, { failPattern: "FATAL", readyPattern: "ready" })], intervalMs: 20, cwd, env: {} });
    const { checks } = track(monitor);
    monitor.start();
    // readyPattern is a startup gate for waitHealthy; the monitor ignores it.
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING" });

    monitor.hold("NOT_SERVING", "stopping");
    await appendFile(file, "FATAL: killed while stopping\n");
    const during = checks();
    await waitFor(() => checks() >= during + 2 && monitor.lastResults[0]?.fatal === true, { what: "the hold's fail line to be seen" });
    monitor.release();
    await waitFor(() => monitor.status === "SERVING", { what: "SERVING after release" });

    await appendFile(file, "FATAL: out of memory\n");
    await waitFor(() => monitor.status === "NOT_SERVING", { what: "NOT_SERVING after a fail line" });
    await appendFile(file, "recovered\n");
    const after = checks();
    await waitFor(() => checks() >= after + 3, { what: "more checks" });
    expect(monitor.status).toBe("NOT_SERVING");
  });

  it("never overlaps checks, even when release() asks for one while another runs", async () => {
    const cwd = await makeTempDir();
    const probe: ProbeConfig = {
      type: "command",
      run: ["sh", "-c", "mkdir lock 2>/dev/null || { touch overlap; exit 1; }; sleep 0.1; rmdir lock"],
      timeoutMs: 5000,
    };
    const monitor = new HealthMonitor({ probes: [probe], intervalMs: 1, cwd, env: {} });
    const { checks } = track(monitor);
    monitor.start();
    for (let i = 0; i < 5; i++) {
      monitor.hold("NOT_SERVING", "test");
      monitor.release();
      await sleep(30);
    }
    await waitFor(() => checks() >= 5 && monitor.status === "SERVING", { what: "five checks and SERVING" });
    await monitor.stop();
    expect(existsSync(join(cwd, "overlap"))).toBe(false);
  });

  it("stop() aborts a running check, kills its command and leaves no more checks", async () => {
    const cwd = await makeTempDir();
    const probe: ProbeConfig = { type: "command", run: ["sh", "-c", "echo $$ > probe.pid; exec sleep 60"], timeoutMs: 60_000 };
    const monitor = new HealthMonitor({ probes: [probe], intervalMs: 10, cwd, env: {} });
    const { checks } = track(monitor);
    monitor.start();
    const pid = await waitFor(async () => Number((await readFile(join(cwd, "probe.pid"), "utf8").catch(() => "")).trim()) || undefined, {
      what: "probe pid",
    });
    await monitor.stop();
    expect(monitor.status).toBe("UNKNOWN");
    const alive = (() => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    })();
    if (alive) process.kill(pid, "SIGKILL");
    expect(alive).toBe(false);
    await sleep(100);
    expect(checks()).toBe(0);
  });
});
