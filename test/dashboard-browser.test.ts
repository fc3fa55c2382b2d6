import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { EVENTS_STREAM } from "../shared/bus/index.ts";
import { FEED_CONSUMER_PREFIX } from "../coordinator/dashboard/events-feed.ts";
import { startCluster, type BackgroundHoist, type TestCluster } from "./helpers/cluster.ts";
import { launchChromium } from "./helpers/browser.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

let cluster: TestCluster | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await cluster?.stop();
  cluster = undefined;
});

declare global {
  interface Window {
    /** Per node, every step or status the page showed, in order (recorded by the test's init script). */
    seenSteps: Record<string, string[]>;
  }
}

/** Records what the page shows for each node every time the DOM changes: the test reads it at the end. */
function recordNodeSteps(): void {
  window.seenSteps = {};
  new MutationObserver(() => {
    for (const element of document.querySelectorAll<HTMLElement>(".node[data-node]")) {
      const node = element.dataset.node!;
      const step = element.dataset.running ?? element.dataset.status!;
      const seen = (window.seenSteps[node] ??= []);
      if (seen.at(-1) !== step) seen.push(step);
    }
  }).observe(document, { subtree: true, childList: true });
}

/** Screenshots go to the test's temp dir; with HOIST_SCREENSHOT_DIR set they are copied there too (docs/dashboard.png comes from such a run). */
async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  const path = join(dir, "screenshots", name);
  await mkdir(join(dir, "screenshots"), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  const keep = process.env.HOIST_SCREENSHOT_DIR;
  if (keep) await copyFile(path, join(keep, name));
}

async function dashboardUrl(run: BackgroundHoist): Promise<string> {
  return waitFor(() => /dashboard on (\S+)/.exec(run.output())?.[1], { timeoutMs: 30_000, what: `the dashboard's URL in its output (${run.output()})` });
}

async function feedConsumers(c: TestCluster): Promise<string[]> {
  const jsm = await c.nc.jetstreamManager();
  const names: string[] = [];
  for (const info of await jsm.consumers.list(EVENTS_STREAM).next()) if (info.name.startsWith(FEED_CONSUMER_PREFIX)) names.push(info.name);
  return names;
}

describe("the web dashboard in a real browser (chromium, 3 agent processes, real nats-server)", () => {
  it("shows the fleet, the nodes moving through their steps and the live events, and its pause button pauses the rollout", { timeout: 180_000 }, async () => {
    const dir = await makeTempDir();
    cluster = await startCluster(dir, { nodes: 3, version: "1.0.0" });
    const dashboard = cluster.spawnHoist(["dashboard", "--http", "127.0.0.1:0"]);
    const url = await dashboardUrl(dashboard);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(recordNodeSteps);
    await page.goto(url);

    // The fleet inventory: every node, its version and health.
    const fleetRows = page.locator("#fleet tbody tr[data-node]");
    await waitFor(async () => (await fleetRows.count()) === 3, { timeoutMs: 15_000, what: "3 fleet rows" });
    for (const node of cluster.nodes) {
      const row = page.locator(`#fleet tbody tr[data-node="${node.node}"]`);
      await expect.poll(() => row.locator("td.version").textContent()).toBe("1.0.0");
      expect(await row.textContent()).toContain("SERVING");
    }
    expect(await feedConsumers(cluster)).toHaveLength(1);
    await screenshot(page, dir, "dashboard-fleet.png");

    const start = cluster.spawnHoist(cluster.rolloutArgs("1.1.0"));
    // The page shows a node in the middle of its upgrade, then the operator clicks pause there.
    await page.locator('.node[data-running="upgrade"]').first().waitFor({ timeout: 60_000 });
    await screenshot(page, dir, "dashboard-upgrading.png");
    await page.locator('article.rollout button[data-control="pause"]').click();

    const paused = await cluster.waitRollout((state) => state.phase === "paused", { what: "phase paused after the pause button" });
    expect(paused.history.some((entry) => entry.event === "pause" && entry.by?.startsWith("dashboard "))).toBe(true);
    const done = Object.entries(paused.hops[0]!.nodes).filter(([, state]) => state.status === "done");
    expect(done.length).toBeLessThan(3);
    await page.locator('article.rollout[data-phase="paused"]').waitFor({ timeout: 10_000 });
    await page.locator("#events li", { hasText: "(phase paused)" }).first().waitFor({ timeout: 10_000 });
    await screenshot(page, dir, "dashboard-paused.png");
    expect(start.child.exitCode).toBeNull();

    await page.locator('article.rollout button[data-control="resume"]').click();
    const result = await start.exited;
    expect(result.code, start.output()).toBe(0);
    await page.locator('article.rollout[data-phase="succeeded"]').waitFor({ timeout: 10_000 });
    for (const node of cluster.nodes) {
      await expect.poll(() => page.locator(`#fleet tbody tr[data-node="${node.node}"] td.version`).textContent(), { timeout: 15_000 }).toBe("1.1.0");
    }
    await page.locator("#events li", { hasText: "(phase succeeded)" }).first().waitFor({ timeout: 10_000 });
    await screenshot(page, dir, "dashboard-succeeded.png");

    // Every node was shown moving through states and steps to done. (Which steps the page catches
    // depends on how fast each one is; asserting every single one would make the test flaky.)
    const seen = await page.evaluate(() => window.seenSteps);
    for (const node of cluster.nodes) {
      const steps = seen[node.node] ?? [];
      expect(new Set(steps).size, `${node.node}: ${steps.join(" > ")}`).toBeGreaterThanOrEqual(3);
      expect(steps.at(-1), `${node.node}: ${steps.join(" > ")}`).toBe("done");
    }
    expect(Object.values(seen).some((steps) => steps.includes("upgrade"))).toBe(true);

    // Closing the page removes its consumer from HOIST_EVENTS.
    await page.close();
    await waitFor(async () => (await feedConsumers(cluster!)).length === 0, { timeoutMs: 10_000, what: "the page's event consumer to be removed" });
  });
});
