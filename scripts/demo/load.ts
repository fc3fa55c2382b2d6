import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A small HTTP load generator for the demo and the zero-downtime test: a few workers on
 * keep-alive connections, each sending GET /kv/KEY or PUT /kv/KEY in a loop with a pause between
 * requests. Bounded: it stops by itself after `maxDurationMs` or `maxRequests`, whichever comes
 * first, or when stop() is called. Loopback only by intent (the demo points it at HAProxy on
 * 127.0.0.1).
 *
 * A request fails when it gets no answer (connection refused or reset, timeout) or an answer other
 * than the expected ones: GET 200 or 404 (each kv node has its own data, so a key written through
 * one node may be missing on another), PUT 204. HAProxy's own 502/503/504 count as failures.
 */

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Parallel workers (and keep-alive connections); default 4. */
  concurrency?: number;
  /** Pause of each worker between two requests; default 20 ms (so at most ~50 req/s per worker). */
  pauseMs?: number;
  /** Share of PUTs among requests, 0..1; default 0.3. */
  writeRatio?: number;
  /** Each request's own budget; default 10 s. */
  requestTimeoutMs?: number;
  /** The generator stops by itself after this long; default 10 min. */
  maxDurationMs?: number;
  /** ... or after this many requests; default 1,000,000. */
  maxRequests?: number;
  /** Called with every failure as it happens (live output). */
  onFailure?: (failure: LoadFailure) => void;
}

export interface LoadFailure {
  at: number;
  method: string;
  path: string;
  /** HTTP status, or the error code (ECONNREFUSED, ECONNRESET, TIMEOUT...). */
  what: string;
}

export interface LoadSummary {
  sent: number;
  ok: number;
  failed: number;
  /** Answers per HAProxy server (X-Served-By header), e.g. { n1: 1203, n2: 1199 }. */
  byServer: Record<string, number>;
  /** Answers per HTTP status. */
  byStatus: Record<string, number>;
  /** The first failures (at most 20). */
  failures: LoadFailure[];
  startedAt: number;
  stoppedAt: number;
}

export interface RunningLoad {
  /** Counters so far. */
  snapshot(): LoadSummary;
  /** Resolves once `count` requests have been answered (or failed), or the load has ended. */
  waitForAnswered(count: number): Promise<void>;
  /** Stops sending, waits for the requests in flight, and returns the final counters. */
  stop(): Promise<LoadSummary>;
  /** Resolves with the final counters when the load ends (stop() or its own bounds). */
  readonly done: Promise<LoadSummary>;
}

const KEYS = ["x", "y", "z", "alpha", "beta"];

/** Starts the load; it runs until stop() or its bounds. */
export function startLoad(options: LoadOptions): RunningLoad {
  const concurrency = options.concurrency ?? 4;
  const pauseMs = options.pauseMs ?? 20;
  const writeRatio = options.writeRatio ?? 0.3;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const maxRequests = options.maxRequests ?? 1_000_000;
  const base = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const stopper = new AbortController();
  const bound = setTimeout(() => stopper.abort(), options.maxDurationMs ?? 600_000);
  const summary: LoadSummary = { sent: 0, ok: 0, failed: 0, byServer: {}, byStatus: {}, failures: [], startedAt: Date.now(), stoppedAt: 0 };
  const waiters: { count: number; resolve: () => void }[] = [];

  const settleWaiters = (all = false) => {
    for (const waiter of [...waiters]) {
      if (all || summary.ok + summary.failed >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const fail = (method: string, path: string, what: string) => {
    summary.failed++;
    const failure = { at: Date.now(), method, path, what };
    if (summary.failures.length < 20) summary.failures.push(failure);
    options.onFailure?.(failure);
  };

  const once = (worker: number, sequence: number) =>
    new Promise<void>((settle) => {
      // A request ends once: an error after a partial answer must not count it twice.
      let ended = false;
      const resolve = () => {
        ended = true;
        settle();
      };
      const write = Math.random() < writeRatio;
      const key = KEYS[(worker + sequence) % KEYS.length]!;
      const method = write ? "PUT" : "GET";
      const path = `/kv/${key}`;
      const body = write ? `value ${worker}-${sequence} at ${new Date().toISOString()}` : undefined;
      summary.sent++;
      const req = request({ host: base.hostname, port: base.port, method, path, agent, signal: AbortSignal.timeout(requestTimeoutMs), headers: body ? { "content-length": Buffer.byteLength(body) } : {} }, (res) => {
        res.resume();
        res.on("end", () => {
          if (ended) return;
          const status = res.statusCode ?? 0;
          summary.byStatus[status] = (summary.byStatus[status] ?? 0) + 1;
          const server = res.headers["x-served-by"];
          if (typeof server === "string") summary.byServer[server] = (summary.byServer[server] ?? 0) + 1;
          const expected = write ? status === 204 : status === 200 || status === 404;
          if (expected) summary.ok++;
          else fail(method, path, `HTTP ${status}`);
          resolve();
        });
        res.on("error", (err: NodeJS.ErrnoException) => {
          if (ended) return;
          fail(method, path, err.code ?? err.message);
          resolve();
        });
        // Closed before the end of the answer without an error event: cut off.
        res.on("close", () => {
          if (ended) return;
          fail(method, path, "answer cut off");
          resolve();
        });
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (ended) return;
        fail(method, path, err.name === "AbortError" || err.name === "TimeoutError" ? "TIMEOUT" : (err.code ?? err.message));
        resolve();
      });
      req.end(body);
    }).finally(() => settleWaiters());

  const worker = async (index: number) => {
    for (let sequence = 0; !stopper.signal.aborted && summary.sent < maxRequests; sequence++) {
      await once(index, sequence);
      await sleep(pauseMs, undefined, { signal: stopper.signal }).catch(() => undefined);
    }
  };

  const done = Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index))).then(() => {
    clearTimeout(bound);
    agent.destroy();
    summary.stoppedAt = Date.now();
    settleWaiters(true);
    return snapshot();
  });

  function snapshot(): LoadSummary {
    return structuredClone(summary);
  }

  return {
    snapshot,
    done,
    waitForAnswered(count) {
      if (summary.ok + summary.failed >= count || summary.stoppedAt > 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async stop() {
      stopper.abort();
      return done;
    },
  };
}
