import { connect } from "nats";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { runHoist, startHoist } from "./helpers/hoist-cli.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { sampleCatalogPath } from "./helpers/sample-service.ts";

/** A stack trace line, as Node prints them. */
const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$/m;

describe("commands against a NATS server without JetStream fail at once, saying so", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const commands: [string, string[]][] = [
    ["inventory", ["inventory"]],
    ["plan", ["plan", "--catalog", sampleCatalogPath(), "--cluster", "c1", "--service", "kv", "--to", "1.1.1"]],
    ["rollout start (reconnects forever)", ["rollout", "start", "--catalog", sampleCatalogPath(), "--cluster", "c1", "--service", "kv", "--to", "1.1.1", "--agent-insecure"]],
    ["rollout status", ["rollout", "status", "--cluster", "c1"]],
    ["rollout pause", ["rollout", "pause", "--cluster", "c1"]],
  ];
  it.each(commands)("`hoist %s`: UNAVAILABLE naming JetStream and -js, no retries, no stack trace", async (_name, args) => {
    const result = await runHoist([...args, "--nats", nats.url], { timeoutMs: 60_000 });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("hoist: error [UNAVAILABLE]");
    expect(result.stderr).toContain("has no JetStream");
    expect(result.stderr).toContain("-js");
    expect(result.stderr).not.toContain("waiting for NATS");
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it("`hoist inventory --json` prints the error as JSON on stdout", async () => {
    const result = await runHoist(["inventory", "--json", "--nats", nats.url], { timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: "UNAVAILABLE", retryable: false } });
    expect(JSON.parse(result.stdout).error.message).toContain("has no JetStream");
  });

  it("`hoist coordinator --nats URL` refuses to run on it", async () => {
    const result = await runHoist(["coordinator", "--nats", nats.url, "--agent-insecure", "--log-level", "error"], { timeoutMs: 60_000 });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("has no JetStream");
  });
});

describe("`hoist coordinator` without --nats owns the nats-server it reports", () => {
  it("with its port taken by another nats-server, it refuses, naming the port and what to do, and writes nothing into the other server", async () => {
    const foreign = await startNatsServer();
    try {
      const stateDir = join(await makeTempDir(), "coordinator");
      const result = await runHoist(["coordinator", "--nats-port", String(foreign.port), "--state-dir", stateDir, "--agent-insecure", "--log-level", "error"], { timeoutMs: 30_000 });
      expect(result.signal).toBeNull();
      expect(result.code).toBe(1);
      expect(result.stdout).not.toContain("coordinator ");
      expect(result.stderr).toContain(`cannot start the embedded nats-server on port ${foreign.port}`);
      expect(result.stderr).toContain("address already in use");
      expect(result.stderr).toContain(`--nats nats://127.0.0.1:${foreign.port}`);
      const nc = await connect({ servers: foreign.url });
      try {
        const streams = await (await nc.jetstreamManager()).streams.names().next();
        expect(streams).toEqual([]);
      } finally {
        await nc.close();
      }
    } finally {
      await foreign.stop();
    }
  });

  it("with --nats-port 0 it starts its own server on a free port and reports that one", async () => {
    const stateDir = join(await makeTempDir(), "coordinator");
    const coordinator = startHoist(["coordinator", "--nats-port", "0", "--state-dir", stateDir, "--agent-insecure", "--log-level", "error"], { timeoutMs: 60_000 });
    const line = await waitFor(() => /coordinator \S+ on (nats:\/\/\S+)/.exec(coordinator.output().stdout)?.[1], { timeoutMs: 30_000 });
    const nc = await connect({ servers: line });
    try {
      expect(nc.info?.jetstream).toBe(true);
    } finally {
      await nc.close();
      coordinator.kill("SIGTERM");
      await coordinator.done;
    }
  });
});
