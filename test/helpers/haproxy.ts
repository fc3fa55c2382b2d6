import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach } from "vitest";
import { freePort } from "../../scripts/demo/fleet.ts";
import { haproxyCommand, readServerStats, startHaproxy, type HaproxyServerStat, type RunningHaproxy } from "../../scripts/demo/haproxy.ts";
import { HAPROXY_HOOK } from "../../scripts/demo/templates.ts";

export { readServerStats, haproxyCommand, type HaproxyServerStat };

export interface TestHaproxy extends RunningHaproxy {
  /** http://127.0.0.1:PORT of the frontend. */
  url: string;
  /** tcp://127.0.0.1:PORT of the runtime API on TCP (a second admin-level stats socket). */
  adminTcp: string;
  backend: string;
  status(server: string): Promise<string>;
}

const running: RunningHaproxy[] = [];

/** Stops every HAProxy a test started, even when the test failed. */
afterEach(async () => {
  await Promise.all(running.splice(0).map((haproxy) => haproxy.stop()));
});

/**
 * A real HAProxy in front of `servers` (name -> port on 127.0.0.1), one backend `kv`, roundrobin,
 * /healthz checks, admin socket in `dir`: the same settings as examples/demo/haproxy.cfg.
 */
export async function startTestHaproxy(dir: string, servers: Record<string, number>): Promise<TestHaproxy> {
  const socket = join(dir, "admin.sock");
  const port = await freePort();
  const adminPort = await freePort();
  const config = [
    "global",
    `    stats socket ${socket} mode 600 level admin`,
    `    stats socket ipv4@127.0.0.1:${adminPort} level admin`,
    "defaults",
    "    mode http",
    "    timeout connect 2s",
    "    timeout client 30s",
    "    timeout server 30s",
    "    retries 3",
    "    option redispatch 1",
    "    retry-on conn-failure empty-response response-timeout",
    "frontend kv_in",
    `    bind 127.0.0.1:${port}`,
    "    default_backend kv",
    "backend kv",
    "    balance roundrobin",
    "    option httpchk GET /healthz",
    "    http-check expect status 200",
    "    default-server check inter 200ms fall 2 rise 2",
    "    timeout check 2s",
    "    http-response set-header X-Served-By %s",
    ...Object.entries(servers).map(([name, serverPort]) => `    server ${name} 127.0.0.1:${serverPort}`),
    "",
  ].join("\n");
  const configFile = join(dir, "haproxy.cfg");
  await writeFile(configFile, config);
  const haproxy = await startHaproxy({ configFile, socket });
  running.push(haproxy);
  return Object.assign(haproxy, {
    url: `http://127.0.0.1:${port}`,
    adminTcp: `tcp://127.0.0.1:${adminPort}`,
    backend: "kv",
    async status(server: string) {
      const stat = (await readServerStats(socket, "kv")).find((entry) => entry.server === server);
      if (!stat) throw new Error(`no server ${server} in backend kv`);
      return stat.status;
    },
  });
}

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs examples/hooks/haproxy-server.mjs with `args` (no shell), as the agent would. */
export function runHaproxyHook(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<HookRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HAPROXY_HOOK, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
