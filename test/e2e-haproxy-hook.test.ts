import { createServer, request, type Server, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";
import { runHaproxyHook, startTestHaproxy, type TestHaproxy } from "./helpers/haproxy.ts";

/** A backend server: /healthz 200, /hold answers only when released, anything else answers at once. */
interface Backend {
  name: string;
  port: number;
  held: ServerResponse[];
  served: number;
  release(): void;
  close(): Promise<void>;
}

const backends: Backend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()));
});

async function startBackend(name: string): Promise<Backend> {
  const held: ServerResponse[] = [];
  const backend = { name, port: 0, held, served: 0 } as Backend;
  const server: Server = createServer((req, res) => {
    if (req.url === "/healthz") return void res.end("ok\n");
    backend.served++;
    if (req.url === "/hold") return void held.push(res);
    res.end(`${name}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  backend.port = (server.address() as { port: number }).port;
  backend.release = () => held.splice(0).forEach((res) => res.end(`${name} released\n`));
  backend.close = () =>
    new Promise((resolve) => {
      backend.release();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  backends.push(backend);
  return backend;
}

/** GET through HAProxy; resolves with the status and which server answered. */
function get(url: string, path: string): Promise<{ status: number; server: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent: false, signal: AbortSignal.timeout(30_000) }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, server: String(res.headers["x-served-by"] ?? "") }));
    });
    req.on("error", reject);
    req.end();
  });
}

interface Setup {
  haproxy: TestHaproxy;
  a: Backend;
  b: Backend;
  socket: string;
  dir: string;
}

async function setup(): Promise<Setup> {
  const dir = await makeTempDir();
  const a = await startBackend("a");
  const b = await startBackend("b");
  const haproxy = await startTestHaproxy(dir, { a: a.port, b: b.port });
  await waitFor(async () => (await haproxy.status("a")) === "UP" && (await haproxy.status("b")) === "UP", { what: "both servers UP", timeoutMs: 20_000 });
  return { haproxy, a, b, socket: haproxy.socket, dir };
}

/** Sends /hold requests through HAProxy until `backend` holds one; returns them all (to await later). */
async function holdOn(haproxy: TestHaproxy, backend: Backend): Promise<Promise<{ status: number; server: string }>[]> {
  const pending: Promise<{ status: number; server: string }>[] = [];
  while (backend.held.length === 0) {
    pending.push(get(haproxy.url, "/hold"));
    await waitFor(() => backends.reduce((sum, each) => sum + each.held.length, 0) >= pending.length, { what: "the held request to arrive" });
  }
  return pending;
}

describe("examples/hooks/haproxy-server.mjs against a real HAProxy", () => {
  it("drain takes no new requests, waits for the open session to end, then MAINT; ready brings the server back UP", async () => {
    const { haproxy, a, b, socket } = await setup();
    const held = await holdOn(haproxy, a);
    b.release();

    const drain = runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--server", "a", "--timeout-ms", "30000"]);
    await waitFor(async () => (await haproxy.status("a")) === "DRAIN", { what: "a in DRAIN" });
    const servedBefore = a.served;
    for (let index = 0; index < 6; index++) expect((await get(haproxy.url, "/")).server).toBe("b");
    expect(a.served).toBe(servedBefore);
    expect(await haproxy.status("a")).toBe("DRAIN"); // the session is still open: the hook is still waiting

    a.release();
    for (const answer of await Promise.all(held)) expect(answer.status).toBe(200);
    const drained = await drain;
    expect(drained.code, drained.stderr).toBe(0);
    expect(await haproxy.status("a")).toBe("MAINT");

    const ready = await runHaproxyHook(["ready", "--socket", socket, "--backend", "kv", "--server", "a"]);
    expect(ready.code, ready.stderr).toBe(0);
    expect(await haproxy.status("a")).toBe("UP");
    const servers = new Set<string>();
    for (let index = 0; index < 6; index++) servers.add((await get(haproxy.url, "/")).server);
    expect([...servers].sort()).toEqual(["a", "b"]);
  });

  it("drain exits 3 and leaves the server in DRAIN when a session outlives --timeout-ms", async () => {
    const { haproxy, a, b, socket } = await setup();
    const held = await holdOn(haproxy, a);
    b.release();
    const drain = await runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--server", "a", "--timeout-ms", "300"]);
    expect(drain.code).toBe(3);
    expect(drain.stderr).toMatch(/kv\/a still has 1 session/);
    expect(await haproxy.status("a")).toBe("DRAIN");
    a.release();
    await Promise.all(held);
  });

  it("runs the chained command after MAINT on drain and before `state ready` on ready, with the hook's cwd and env", async () => {
    const { haproxy, socket, dir } = await setup();
    const record = join(dir, "record.txt");
    // The chained command asks HAProxy for the server's status itself and appends it to a file.
    const script = `
      const net = require("node:net"), fs = require("node:fs");
      const c = net.connect(process.env.SOCKET); let out = "";
      c.on("data", (d) => (out += d));
      c.on("end", () => {
        const row = out.split("\\n").find((line) => line.startsWith("kv,a,"));
        const header = out.split("\\n")[0].slice(2).split(",");
        fs.appendFileSync("record.txt", process.argv[1] + " " + row.split(",")[header.indexOf("status")] + " " + process.env.HOIST_NODE + "\\n");
      });
      c.end("show stat -1 4 -1\\n");`;
    const env = { SOCKET: socket, HOIST_NODE: "a" };
    const drain = await runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--", "node", "-e", script, "leave"], { cwd: dir, env });
    expect(drain.code, drain.stderr).toBe(0);
    const ready = await runHaproxyHook(["ready", "--socket", socket, "--backend", "kv", "--", "node", "-e", script, "join"], { cwd: dir, env });
    expect(ready.code, ready.stderr).toBe(0);
    expect((await readFile(record, "utf8")).trim().split("\n")).toEqual(["leave MAINT a", "join MAINT a"]);
    expect(await haproxy.status("a")).toBe("UP");
  });

  it("exits 5 naming the chained command when it fails, 1 for an unknown server, 4 without a socket, 2 for bad usage", async () => {
    const { socket, dir } = await setup();
    const failing = await runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--server", "a", "--", "node", "-e", "process.exit(7)"]);
    expect(failing.code).toBe(5);
    expect(failing.stderr).toMatch(/exited with code 7/);

    const unknown = await runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--server", "zz"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/has no server zz \(it has: a, b\)/);

    const noSocket = await runHaproxyHook(["ready", "--socket", join(dir, "missing.sock"), "--backend", "kv", "--server", "a"]);
    expect(noSocket.code).toBe(4);
    expect(noSocket.stderr).toMatch(/stats socket/);

    const usage = await runHaproxyHook(["undrain", "--backend", "kv"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/drain or ready/);
    expect(usage.stderr).toMatch(/--socket is required/);
  });

  it("talks to a runtime API on TCP too (--socket tcp://HOST:PORT)", async () => {
    const { haproxy } = await setup();
    const drain = await runHaproxyHook(["drain", "--socket", haproxy.adminTcp, "--backend", "kv", "--server", "b"]);
    expect(drain.code, drain.stderr).toBe(0);
    expect(await haproxy.status("b")).toBe("MAINT");
    const ready = await runHaproxyHook(["ready", "--socket", haproxy.adminTcp, "--backend", "kv", "--server", "b"]);
    expect(ready.code, ready.stderr).toBe(0);
    expect(await haproxy.status("b")).toBe("UP");
  });

  it("ready exits 3 when HAProxy's health check keeps the server DOWN (the service is not listening)", async () => {
    const { haproxy, a, socket } = await setup();
    const drain = await runHaproxyHook(["drain", "--socket", socket, "--backend", "kv", "--server", "a"]);
    expect(drain.code, drain.stderr).toBe(0);
    await a.close();
    const ready = await runHaproxyHook(["ready", "--socket", socket, "--backend", "kv", "--server", "a", "--timeout-ms", "3000"]);
    expect(ready.code).toBe(3);
    expect(ready.stderr).toMatch(/kv\/a is .*not UP/);
    expect(await haproxy.status("a")).not.toBe("UP");
  });
});
