import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HoistError } from "../../shared/errors/index.ts";

/**
 * HAProxy for the demo and the end-to-end tests: find the binary, run it in the foreground on a
 * config file, and talk to its runtime API (the admin socket) to read what it thinks of each server.
 * The drain/rejoin hook (examples/hooks/haproxy-server.mjs) has its own copy of the socket client,
 * so that users can copy that one file alone.
 */

/** One server of a backend as `show stat` reports it. */
export interface HaproxyServerStat {
  server: string;
  /** UP, DOWN, DRAIN, MAINT, NOLB, "UP 1/2" (up, going down), "DOWN 1/2" (down, going up), "no check". */
  status: string;
  /** Current sessions (requests being served or waiting for the server). */
  sessions: number;
  /** Requests queued for this server. */
  queued: number;
  /** Last health check: status code and detail, e.g. "L7OK 200" or "L4CON Connection refused". */
  check: string;
  /** Requests whose connection to this server failed (refused, timed out), since HAProxy started. */
  connectErrors: number;
  /** Requests whose answer from this server failed (reset, empty, aborted), since HAProxy started. */
  responseErrors: number;
  /** Connection attempts to this server that were retried. */
  retries: number;
  /** Requests taken from this server to another one (option redispatch). */
  redispatches: number;
}

/** Where Debian, Homebrew and source installs put haproxy, then $PATH. */
export function findHaproxyBinary(path = process.env.PATH ?? ""): string | undefined {
  const candidates = [
    "/usr/sbin/haproxy",
    "/usr/bin/haproxy",
    "/usr/local/sbin/haproxy",
    "/usr/local/bin/haproxy",
    ...path
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, "haproxy")),
  ];
  return candidates.find((candidate) => existsSync(candidate));
}

/** The haproxy binary, or NOT_FOUND saying how to get it. */
export function requireHaproxyBinary(): string {
  const found = findHaproxyBinary();
  if (!found) throw new HoistError("NOT_FOUND", "haproxy is not installed: run `npm run setup` (installs Debian's haproxy package; or `apt-get install haproxy`)");
  return found;
}

/** True when HAProxy sends new requests to a server in this status. */
export function isInRotation(status: string): boolean {
  return status === "UP" || status === "no check" || /^UP \d+\/\d+$/.test(status);
}

/**
 * Sends one command to HAProxy's runtime API and resolves with the whole answer.
 * @throws HoistError UNAVAILABLE when the socket cannot be used, TIMEOUT when HAProxy does not answer.
 */
export function haproxyCommand(socket: string, command: string, options: { timeoutMs?: number } = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const connection = connect(socket);
    let answer = "";
    const timer = setTimeout(() => {
      connection.destroy();
      reject(new HoistError("TIMEOUT", `HAProxy did not answer "${command}" on ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    connection.setEncoding("utf8");
    connection.on("data", (chunk: string) => (answer += chunk));
    connection.on("end", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    connection.on("error", (err) => {
      clearTimeout(timer);
      reject(new HoistError("UNAVAILABLE", `cannot use the HAProxy admin socket ${socket}: ${err.message}`, { cause: err }));
    });
    connection.end(`${command}\n`);
  });
}

function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let index = 0; index < line.length; index++) {
    const char = line[index]!;
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') {
        field += '"';
        index++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      fields.push(field);
      field = "";
    } else field += char;
  }
  fields.push(field);
  return fields;
}

/** Every server of `backend` from `show stat` (CSV), in config order. */
export async function readServerStats(socket: string, backend: string): Promise<HaproxyServerStat[]> {
  const answer = await haproxyCommand(socket, "show stat -1 4 -1");
  const lines = answer.split("\n").filter((line) => line.trim() !== "");
  const header = lines.shift();
  if (!header?.startsWith("# ")) throw new HoistError("INTERNAL", `HAProxy answered "show stat" with something that is not its CSV: ${answer.trim().slice(0, 200)}`);
  const names = splitCsv(header.slice(2));
  const servers: HaproxyServerStat[] = [];
  for (const line of lines) {
    const values = splitCsv(line);
    const row = Object.fromEntries(names.map((name, index) => [name, values[index] ?? ""]));
    if (row.pxname !== backend || row.svname === "BACKEND" || row.svname === "FRONTEND") continue;
    servers.push({
      server: row.svname!,
      status: row.status!,
      sessions: Number(row.scur) || 0,
      queued: Number(row.qcur) || 0,
      check: [row.check_status, row.last_chk].filter(Boolean).join(" "),
      connectErrors: Number(row.econ) || 0,
      responseErrors: Number(row.eresp) || 0,
      retries: Number(row.wretr) || 0,
      redispatches: Number(row.wredis) || 0,
    });
  }
  return servers;
}

export interface RunningHaproxy {
  socket: string;
  readonly process: ChildProcess;
  /** stderr of HAProxy so far (its warnings: servers going UP/DOWN, config notes). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartHaproxyOptions {
  configFile: string;
  /** The admin socket the config declares (`stats socket PATH ... level admin`). */
  socket: string;
  binary?: string;
  signal?: AbortSignal;
}

/**
 * Checks the config (`haproxy -c`), then runs HAProxy in the foreground (`-db`) and resolves once
 * its admin socket answers. stop() sends SIGTERM (HAProxy's immediate stop) and waits for the exit.
 * @throws HoistError NOT_FOUND without haproxy, CONFIG_INVALID for a config it refuses,
 *   UNAVAILABLE when it exits at start, TIMEOUT when the socket never answers.
 */
export async function startHaproxy(options: StartHaproxyOptions): Promise<RunningHaproxy> {
  const binary = options.binary ?? requireHaproxyBinary();
  const check = await runToEnd(binary, ["-c", "-q", "-f", options.configFile]);
  if (check.code !== 0) throw new HoistError("CONFIG_INVALID", `haproxy refused ${options.configFile}:\n${check.output.trim()}`);

  const child = spawn(binary, ["-db", "-f", options.configFile], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-64 * 1024)));
  const running: RunningHaproxy = {
    socket: options.socket,
    process: child,
    output: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new HoistError("UNAVAILABLE", `cannot start ${binary}: ${err.message}`, { cause: err })));
  });
  try {
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      if (child.exitCode !== null) throw new HoistError("UNAVAILABLE", `haproxy exited with code ${child.exitCode} at start:\n${stderr.trim()}`);
      const answer = await haproxyCommand(options.socket, "show info", { timeoutMs: 1000 }).catch(() => undefined);
      if (answer?.includes("Name: HAProxy")) break;
      if (attempt >= 200) throw new HoistError("TIMEOUT", `haproxy's admin socket ${options.socket} did not answer within 10 s:\n${stderr.trim()}`);
      await sleep(50);
    }
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

function runToEnd(binary: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("error", (err) => reject(new HoistError("UNAVAILABLE", `cannot run ${binary}: ${err.message}`, { cause: err })));
    child.once("close", (code) => resolve({ code, output }));
  });
}
