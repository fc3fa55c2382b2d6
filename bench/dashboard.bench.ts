/**
 * Dashboard benchmark (`npm run bench:dashboard`): a simulated fleet of HOIST_DASH_NODES agents
 * (scripts/fleet-sim, real AgentBus and heartbeats) on a real nats-server, a real rollout of it
 * running, the dashboard served in this process, Debian's chromium driven by playwright-core.
 * Measures, side by side in the same run:
 *   load     a fresh page until fleet and rollouts are drawn, against what a terminal takes for the
 *            same picture (`hoist inventory --json` and `hoist rollout status`, whole processes);
 *   events   an event published on HOIST_EVENTS until it is in the page's log;
 *   records  a control recorded in KV (requestControl, as `hoist rollout pause` does) until the page
 *            shows the rollout's new buttons.
 * Prints medians and maxima and writes bench/results/runs/dashboard-latest.json (git-ignored). See bench/README.md.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { encodeJson, rolloutEventsSubject } from "../shared/bus/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { startLocalNatsServer } from "../shared/nats-server/index.ts";
import { openBus } from "../coordinator/bus/open-bus.ts";
import { startDashboard } from "../coordinator/dashboard/server.ts";
import { findRollout, requestControl } from "../coordinator/rollout/controls.ts";
import { RolloutStore } from "../coordinator/rollout/store.ts";
import { startFleet } from "../scripts/fleet-sim/fleet.ts";
import { writeSimCatalog } from "../scripts/fleet-sim/sim-catalog.ts";
import { benchResultFile } from "./results-file.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const HOIST = join(root, "bin", "hoist.mjs");
const NODES = Number(process.env.HOIST_DASH_NODES ?? 100);
const ROUNDS = Number(process.env.HOIST_DASH_ROUNDS ?? 5);
const EVENTS = Number(process.env.HOIST_DASH_EVENTS ?? 20);

const log = (line: string) => process.stdout.write(`${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const summary = (values: number[]) => ({ medianMs: Math.round(median(values)), maxMs: Math.round(Math.max(...values)), minMs: Math.round(Math.min(...values)), samples: values.map(Math.round) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function runHoist(args: string[]): Promise<{ code: number | null; wallMs: number; stdout: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [HOIST, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.once("close", (code) => resolve({ code, wallMs: performance.now() - started, stdout }));
  });
}

const store = await mkdtemp(join(tmpdir(), "hoist-dash-bench-"));
const nats = await startLocalNatsServer({ storeDir: join(store, "nats") });
const cluster = `dash${Math.random().toString(16).slice(2, 6)}`;
const fleet = await startFleet({ servers: [nats.url], cluster, nodes: NODES, version: "1.0.0", seed: 7 });
const bus = await openBus({ nats: nats.url }, "dashboard bench", { reconnectForever: true });
const dashboard = await startDashboard({ bus, listen: { host: "127.0.0.1", port: 0 }, logger: silentLogger() });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const rolloutStore = new RolloutStore(bus.buckets.rollouts);
const results: Record<string, unknown> = { machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version }, nodes: NODES, startedAt: new Date().toISOString(), loadAtStart: loadavg() };

let rollout: ReturnType<typeof spawn> | undefined;
try {
  log(
    `dashboard bench: ${NODES} simulated agents, cluster ${cluster}, dashboard ${dashboard.url}, load ${loadavg()
      .map((value) => value.toFixed(2))
      .join(" ")}`,
  );
  const catalog = join(store, "catalog.yaml");
  await writeSimCatalog(catalog);
  // A real rollout of the whole fleet runs while the page is measured: its events and records flow.
  rollout = spawn(
    process.execPath,
    [HOIST, "rollout", "start", "--catalog", catalog, "--cluster", cluster, "--service", "kv", "--to", "1.1.0", "--batch", "1", "--min-healthy-ms", "1000", "--agent-insecure", "--quiet", "--nats", nats.url],
    { stdio: "ignore" },
  );
  const running = await (async () => {
    for (let tries = 0; tries < 600; tries++) {
      const state = await findRollout(rolloutStore, cluster, undefined).catch(() => undefined);
      if (state && state.phase === "running") return state;
      await sleep(100);
    }
    throw new Error("the rollout did not start running");
  })();
  log(`  rollout ${running.id} running`);

  // Load: a fresh browser context each round (nothing cached), until both panels are drawn.
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(dashboard.url);
    await page.waitForSelector("body[data-ready]");
    const readyMs = await page.evaluate(() => (window as unknown as { hoistReadyMs: number }).hoistReadyMs);
    const rows = await page.locator("#fleet tbody tr[data-node]").count();
    const chips = await page.locator(".node[data-node]").count();
    if (rows !== NODES) throw new Error(`the page shows ${rows} fleet rows, not ${NODES}`);
    loads.push(readyMs);
    log(`  load ${round + 1}: ${Math.round(readyMs)} ms (navigation start to fleet and rollouts drawn; ${rows} rows, ${chips} node chips)`);
    await context.close();
  }
  const cli: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const inventory = await runHoist(["inventory", "--json", "--nats", nats.url]);
    const status = await runHoist(["rollout", "status", "--cluster", cluster, "--nats", nats.url]);
    cli.push(inventory.wallMs + status.wallMs);
    log(`  terminal ${round + 1}: hoist inventory --json ${Math.round(inventory.wallMs)} ms + hoist rollout status ${Math.round(status.wallMs)} ms`);
  }

  // Live: one page stays open; events and KV changes are timed from just before they are made.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(dashboard.url);
  await page.waitForSelector("body[data-ready]");
  await page.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as unknown as { benchSeen: Record<string, number> }).benchSeen = seen;
    new MutationObserver(() => {
      for (const item of document.querySelectorAll("#events li")) {
        const mark = /bench-mark-(\d+)/.exec(item.textContent ?? "")?.[1];
        if (mark && seen[mark] === undefined) seen[mark] = Date.now();
      }
    }).observe(document.getElementById("events")!, { childList: true, subtree: true });
  });
  const eventLatency: number[] = [];
  for (let index = 0; index < EVENTS; index++) {
    const sentAt = Date.now();
    bus.nc.publish(rolloutEventsSubject(cluster), encodeJson({ type: "note", cluster, message: `bench-mark-${index}`, at: new Date(sentAt).toISOString() }));
    const shownAt = await page.waitForFunction((mark) => (window as unknown as { benchSeen: Record<string, number> }).benchSeen[mark], String(index), { polling: "raf" }).then((handle) => handle.jsonValue());
    eventLatency.push(Number(shownAt) - sentAt);
    await sleep(150);
  }
  log(`  events: published -> in the page's log: median ${Math.round(median(eventLatency))} ms, max ${Math.round(Math.max(...eventLatency))} ms (${EVENTS} events)`);

  const recordLatency: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [control, shows] of [
      ["pause", "resume"],
      ["resume", "pause"],
    ] as const) {
      const sentAt = Date.now();
      await requestControl(rolloutStore, cluster, running.id, control, "dashboard bench");
      await page.waitForSelector(`article.rollout[data-rollout="${running.id}"] button[data-control="${shows}"]`, { timeout: 10_000 });
      recordLatency.push(Date.now() - sentAt);
    }
  }
  log(`  records: control recorded in KV -> page shows it: median ${Math.round(median(recordLatency))} ms, max ${Math.round(Math.max(...recordLatency))} ms (${recordLatency.length} changes)`);
  await context.close();

  results.load = { page: summary(loads), terminal: summary(cli), ratio: Number((median(loads) / median(cli)).toFixed(3)) };
  results.events = summary(eventLatency);
  results.records = summary(recordLatency);
  results.loadAtEnd = loadavg();
  log(`  page load / terminal (inventory + rollout status) = ${(median(loads) / median(cli)).toFixed(2)}x (medians)`);
  await requestControl(rolloutStore, cluster, running.id, "abort", "dashboard bench").catch(() => undefined);
  const out = await benchResultFile("dashboard-latest.json");
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`  wrote ${out}`);
} finally {
  rollout?.kill("SIGKILL");
  await browser.close();
  await dashboard.stop();
  await bus.close();
  await fleet.stop();
  await nats.stop();
  await rm(store, { recursive: true, force: true });
}
