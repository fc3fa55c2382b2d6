import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { connect as connectTcp } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { findNatsServerBinary } from "../shared/nats-server/index.ts";
import { openBuckets, retryBus, toBusError } from "../shared/bus/index.ts";

let cluster: TestCluster | undefined;
let coreOnly: ChildProcess | undefined;
let server: NatsServerHandle | undefined;
let nc: NatsConnection | undefined;
afterEach(async () => {
  coreOnly?.kill("SIGKILL");
  coreOnly = undefined;
  if (server?.process.signalCode === null) server.process.kill("SIGCONT");
  await nc?.close().catch(() => undefined);
  nc = undefined;
  await server?.stop();
  server = undefined;
  await cluster?.stop();
  cluster = undefined;
});

/** What a promise that must reject rejected with (a raw nats.js error here). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  expect(outcome.resolved).toBe(false);
  return outcome.resolved ? undefined : outcome.err;
}

/** SIGSTOPs the server and waits until the kernel says it is stopped (state T), so no answer slips out after. */
async function freeze(handle: NatsServerHandle): Promise<void> {
  handle.process.kill("SIGSTOP");
  await waitFor(async () => (await readFile(`/proc/${handle.process.pid}/stat`, "utf8")).split(") ")[1]?.startsWith("T"), { what: "nats-server stopped" });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A nats-server on `port` without JetStream: core NATS answers, every JetStream request gets "no responders" (503). */
async function startCoreOnly(port: number): Promise<ChildProcess> {
  const child = spawn(findNatsServerBinary(), ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  await waitFor(() => portOpen(port), { what: `core-only nats-server on ${port}` });
  return child;
}

describe("NATS errors are classified by code (real nats-server)", () => {
  it("a lost compare-and-set is CONFLICT, a stopped server is a retryable TIMEOUT, a closed connection is not retryable", { timeout: 30_000 }, async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    const kv = (await openBuckets(nc)).rollouts;
    const revision = await kv.create("c.k", new Uint8Array([1]));
    await kv.update("c.k", new Uint8Array([2]), revision);
    const conflict = toBusError(await rejection(kv.update("c.k", new Uint8Array([3]), revision)), "saving");
    expect(conflict).toMatchObject({ code: "CONFLICT" });

    await freeze(server);
    const timeout = toBusError(await rejection(kv.get("c.k")), "reading");
    server.process.kill("SIGCONT");
    expect(timeout).toMatchObject({ code: "TIMEOUT", retryable: true });
    // retryBus rides out a stop longer than one request's timeout (5 s) and shorter than its budget: the value written before is read back
    await freeze(server);
    const resume = setTimeout(() => server!.process.kill("SIGCONT"), 6000);
    const waits: string[] = [];
    const entry = await retryBus("reading", () => kv.get("c.k"), { budgetMs: 20_000, onWait: (wait) => waits.push(wait.error.code) });
    clearTimeout(resume);
    expect([...(entry?.value ?? [])]).toEqual([2]);
    expect(waits[0]).toBe("TIMEOUT");

    await nc.close();
    const closed = toBusError(await rejection(kv.get("c.k")), "reading");
    expect(closed).toMatchObject({ code: "UNAVAILABLE", retryable: false });
  });
});

describe("operator commands wait out a JetStream outage (1 agent process, real nats-server)", () => {
  it(
    "`hoist rollout status --follow` says it waits for NATS while JetStream does not answer and goes on once it is back; a command started against the server without JetStream fails at once, saying so",
    { timeout: 90_000 },
    async () => {
      cluster = await startCluster(await makeTempDir(), { nodes: 1, version: "1.1.0" });
      const recorded = await cluster.hoist([...cluster.rolloutArgs("1.1.1"), "--detach", "--json"]);
      expect(recorded.code, recorded.stderr).toBe(0);
      const { id } = JSON.parse(recorded.stdout) as { id: string };
      // No coordinator drives it: the follow polls the record until it is killed.
      const follow = cluster.spawnHoist(["rollout", "status", "--cluster", cluster.cluster, "--follow"]);
      await waitFor(() => follow.output().includes(`rollout ${id}`), { timeoutMs: 30_000, what: "the follow's first status" });

      // JetStream away, core NATS up: the follow's reads get no responders (503) until the real server is back.
      await cluster.nats.kill();
      coreOnly = await startCoreOnly(cluster.nats.port);
      await waitFor(() => follow.output().includes("waiting for NATS"), { timeoutMs: 20_000, what: "the follow waiting for NATS" });
      expect(follow.child.exitCode).toBeNull();

      // A command that starts now meets a server without JetStream: no waiting, one clear error (not a stack, not INTERNAL).
      const refused = await cluster.hoist(["inventory", "--cluster", cluster.cluster], { timeoutMs: 30_000 });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/hoist: error \[UNAVAILABLE\]: the NATS server at \S+ has no JetStream/);
      expect(refused.stderr).not.toContain("waiting for NATS");
      expect(refused.stderr).not.toContain("INTERNAL");

      coreOnly.kill("SIGKILL");
      await new Promise((resolve) => coreOnly!.once("exit", resolve));
      await cluster.nats.restart();
      const listed = await cluster.hoist(["inventory", "--cluster", cluster.cluster, "--json"]);
      expect(listed.code, `${listed.stdout}\n${listed.stderr}`).toBe(0);
      expect((JSON.parse(listed.stdout) as { node: string }[]).map((row) => row.node)).toEqual(["n1"]);
      // The follow rode the outage out: still running, and it never gave up.
      await waitFor(async () => (await cluster!.rollout())?.id === id, { what: "the rollout record readable again" });
      expect(follow.child.exitCode).toBeNull();
      expect(follow.output()).not.toContain("hoist: error");
      await follow.kill("SIGTERM");
    },
  );
});
