import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAgentGrpcServer, type AgentGrpcServer } from "../agent/grpc/server.ts";
import { formatDuration, registerAgentStatusCommand, runAgentStatus } from "../agent/grpc/status-command.ts";
import { formatBytes } from "../shared/format/index.ts";
import { silentLogger } from "../shared/logger/index.ts";
import { FakeNodeAgent, SHA, sampleInventory } from "./helpers/fake-node-agent.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const TOKEN = "status-command-token-0123456789";
let server: AgentGrpcServer;

beforeAll(async () => {
  server = await startAgentGrpcServer(new FakeNodeAgent(), { listen: "127.0.0.1:0", insecure: false, token: TOKEN }, silentLogger());
});
afterAll(async () => {
  await server?.stop();
});

function capture() {
  const out = { text: "", write: (chunk: string) => (out.text += chunk) };
  return out;
}

describe("hoist agent status", () => {
  it("prints the inventory as a table: services, sha256 prefix, health, releases, snapshots, last result, host", async () => {
    const stdout = capture();
    const stderr = capture();
    const code = await runAgentStatus({ target: server.address, insecure: true, token: TOKEN, stdout, stderr });
    expect(stderr.text).toBe("");
    expect(code).toBe(0);
    const lines = stdout.text.split("\n");
    expect(lines[0]).toBe("node node-1  cluster test  agent 0.1.0");
    expect(lines.find((line) => line.startsWith("SERVICE"))).toMatch(/^SERVICE\s+ACTIVE\s+SHA256\s+HEALTH\s+ACTIVITY\s+RELEASES\s+SNAPSHOTS\s+LAST RESULT$/);
    const web = lines.find((line) => line.startsWith("web "))!;
    expect(web.split(/\s{2,}/)).toEqual(["web", "1.1.0", SHA.slice(0, 12), "SERVING", "idle", "1.0.0,1.1.0*", "1 (newest 2024-01-01 00:00)", "committed 1.0.0->1.1.0 2024-01-01 00:01"]);
    expect(lines.find((line) => line.startsWith("db "))?.split(/\s{2,}/)).toEqual(["db", "-", "-", "UNKNOWN", "stopped", "-", "0", "-"]);
    expect(stdout.text).toContain("hostname  host-1");
    expect(stdout.text).toContain("os        Debian GNU/Linux 12 (kernel 6.1.0, x64)");
    expect(stdout.text).toContain("memory    3.0 GiB free of 8.0 GiB");
    expect(stdout.text).toContain("uptime    1d 2h 3m");
    expect(stdout.text).toContain("/srv/web  10.0 GiB free of 50.0 GiB");
  });

  it("--json prints the inventory as it came over the wire", async () => {
    const stdout = capture();
    const code = await runAgentStatus({ target: server.address, insecure: true, token: TOKEN, json: true, stdout });
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text)).toStrictEqual(sampleInventory());
  });

  it("reads the token from --token-file", async () => {
    const dir = await makeTempDir();
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`);
    const stdout = capture();
    expect(await runAgentStatus({ target: server.address, insecure: true, tokenFile, json: true, stdout })).toBe(0);
  });

  it("exits 1 with the error code when refused, and prints a JSON error with --json", async () => {
    const stderr = capture();
    expect(await runAgentStatus({ target: server.address, insecure: true, stdout: capture(), stderr })).toBe(1);
    expect(stderr.text).toMatch(/^hoist agent status: error \[UNAUTHENTICATED\]: .*Bearer/);
    const stdout = capture();
    expect(await runAgentStatus({ target: server.address, insecure: true, json: true, stdout })).toBe(1);
    expect(JSON.parse(stdout.text)).toMatchObject({ error: { code: "UNAUTHENTICATED", retryable: false } });
  });

  it("exits 1 with UNAVAILABLE and a hint when nothing listens on the target", async () => {
    const stderr = capture();
    expect(await runAgentStatus({ target: "127.0.0.1:1", insecure: true, stderr, stdout: capture(), deadlineMs: 3000 })).toBe(1);
    expect(stderr.text).toContain("[UNAVAILABLE]");
    expect(stderr.text).toContain("check that the agent runs");
  });

  it("exits 2 on contradictory options", async () => {
    const stderr = capture();
    expect(await runAgentStatus({ target: server.address, insecure: true, caFile: "/ca.pem", stderr, stdout: capture() })).toBe(2);
    expect(stderr.text).toContain("[INVALID_ARGUMENT]");
  });

  it("registers `agent status` with commander and runs it", async () => {
    const program = new Command().exitOverride();
    registerAgentStatusCommand(program);
    const agent = program.commands.find((command) => command.name() === "agent");
    expect(agent?.commands.map((command) => command.name())).toEqual(["status"]);
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => writes.push(String(chunk)) > 0);
    try {
      await program.parseAsync(["agent", "status", "--target", server.address, "--insecure", "--token", TOKEN, "--json"], { from: "user" });
    } finally {
      spy.mockRestore();
    }
    expect(process.exitCode).toBe(0);
    process.exitCode = undefined;
    expect(JSON.parse(writes.join("")).node).toBe("node-1");
  });

  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [5_000_000_000, "4.7 GiB"],
  ])("formatBytes(%d) = %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([
    [42, "42s"],
    [3600, "1h 0m"],
    [93_784, "1d 2h 3m"],
  ])("formatDuration(%d) = %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
