import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { isInRotation, readServerStats } from "./haproxy.ts";

/**
 * Watches, while a rollout runs, how long each node is out of HAProxy's rotation (its server not
 * UP: DRAIN, MAINT, DOWN) and how long its service does not answer its own /healthz. Both are
 * sampled every `intervalMs`, so the figures are exact to about one interval.
 */

export interface WatchedNode {
  /** Node name, also its server name in the backend. */
  name: string;
  /** Port of the node's service on 127.0.0.1 (GET /healthz). */
  port: number;
}

export interface NodeDowntime {
  node: string;
  /** Total time the server was not in HAProxy's rotation. */
  outOfRotationMs: number;
  /** How many separate periods out of rotation (one per hop on a rolling upgrade). */
  outOfRotationPeriods: number;
  /** Total time the service itself did not answer GET /healthz with 200. */
  notServingMs: number;
  notServingPeriods: number;
}

export interface RotationWatch {
  /** Stops sampling and returns each node's totals (periods still open are closed now). */
  stop(): Promise<NodeDowntime[]>;
}

interface Tracker {
  since?: number;
  totalMs: number;
  periods: number;
}

function track(tracker: Tracker, up: boolean, now: number): "went-out" | "came-back" | undefined {
  if (!up && tracker.since === undefined) {
    tracker.since = now;
    tracker.periods++;
    return "went-out";
  }
  if (up && tracker.since !== undefined) {
    tracker.totalMs += now - tracker.since;
    tracker.since = undefined;
    return "came-back";
  }
  return undefined;
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false, signal: AbortSignal.timeout(500) }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
    });
    req.on("error", () => resolve(false));
    req.end();
  });
}

/**
 * Starts sampling. `onChange` gets one line per change (a server's HAProxy status, a service going
 * silent or answering again), for live output.
 */
export function startRotationWatch(options: { socket: string; backend: string; nodes: WatchedNode[]; intervalMs?: number; onChange?: (line: string) => void }): RotationWatch {
  const intervalMs = options.intervalMs ?? 100;
  const stopper = new AbortController();
  const status = new Map<string, string>();
  const rotation = new Map<string, Tracker>(options.nodes.map((node) => [node.name, { totalMs: 0, periods: 0 }]));
  const serving = new Map<string, Tracker>(options.nodes.map((node) => [node.name, { totalMs: 0, periods: 0 }]));
  const say = (line: string) => options.onChange?.(line);

  const sample = async () => {
    const [stats, health] = await Promise.all([readServerStats(options.socket, options.backend).catch(() => undefined), Promise.all(options.nodes.map((node) => healthy(node.port)))]);
    const now = Date.now();
    if (stats) {
      for (const node of options.nodes) {
        const stat = stats.find((entry) => entry.server === node.name);
        if (!stat) continue;
        const before = status.get(node.name);
        if (before !== undefined && before !== stat.status) say(`haproxy  ${node.name}: ${before} -> ${stat.status}`);
        status.set(node.name, stat.status);
        const tracker = rotation.get(node.name)!;
        const since = tracker.since;
        if (track(tracker, isInRotation(stat.status), now) === "came-back") say(`haproxy  ${node.name}: back in rotation after ${now - since!} ms out`);
      }
    }
    options.nodes.forEach((node, index) => {
      const tracker = serving.get(node.name)!;
      const since = tracker.since;
      const change = track(tracker, health[index]!, now);
      if (change === "went-out") say(`kv       ${node.name}: not answering /healthz (stopped for the upgrade)`);
      if (change === "came-back") say(`kv       ${node.name}: answering /healthz again after ${now - since!} ms`);
    });
  };

  const loop = (async () => {
    while (!stopper.signal.aborted) {
      await sample();
      await sleep(intervalMs, undefined, { signal: stopper.signal }).catch(() => undefined);
    }
  })();

  return {
    async stop() {
      stopper.abort();
      await loop;
      const now = Date.now();
      return options.nodes.map((node) => {
        const out = rotation.get(node.name)!;
        const silent = serving.get(node.name)!;
        const close = (tracker: Tracker) => tracker.totalMs + (tracker.since === undefined ? 0 : now - tracker.since);
        return {
          node: node.name,
          outOfRotationMs: close(out),
          outOfRotationPeriods: out.periods,
          notServingMs: close(silent),
          notServingPeriods: silent.periods,
        };
      });
    },
  };
}
