#!/usr/bin/env node
// Takes one server out of an HAProxy backend, or puts it back, through HAProxy's runtime API
// (the admin socket), for Hoist's drain and rejoin hooks. Plain Node.js, no dependencies.
//
//   haproxy-server.mjs drain --socket PATH --backend B [--server S] [--timeout-ms N] [-- CMD ARGS...]
//   haproxy-server.mjs ready --socket PATH --backend B [--server S] [--timeout-ms N] [-- CMD ARGS...]
//
// drain: `set server B/S state drain` (no new requests, current ones go on), wait until the server
//        has no current session and nothing queued (`show stat`: scur + qcur = 0), then
//        `set server B/S state maint`. Only then is it safe to stop the service. CMD, if given,
//        runs after that: the service's own "leave the cluster" command (bin/leave).
// ready: CMD, if given, runs first: the service's own "join the cluster" command (bin/join). Then
//        `set server B/S state ready` and wait until HAProxy's own health check has the server
//        UP (a server without `check` counts as up at once).
//
// --socket is the path of HAProxy's admin socket (`stats socket PATH mode 600 level admin`), or
// tcp://HOST:PORT for a runtime API HAProxy exposes on TCP (`stats socket ipv4@HOST:PORT level
// admin`; it has no authentication: reachable only from the nodes, never from the internet).
// --server defaults to $HOIST_NODE (the agent sets it), so one hook line fits every node whose
// HAProxy server is named after the node. CMD runs without a shell in the hook's working dir
// (the active release dir under Hoist) with the hook's environment: `-- bin/leave` works as is.
//
// Exit codes:
//   0  done
//   1  HAProxy refused the command (no such backend or server, ...) or answered something unexpected
//   2  usage error
//   3  timed out: sessions still open after --timeout-ms (drain; the server stays in DRAIN), or the
//      server not UP within --timeout-ms (ready; its health check fails)
//   4  the admin socket cannot be used (missing, refused, permission, socket level below admin)
//   5  CMD failed (non-zero exit, killed, or cannot be started)

import { spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

const USAGE = `usage: haproxy-server.mjs drain|ready --socket PATH|tcp://HOST:PORT --backend NAME [--server NAME] [--timeout-ms MS] [--interval-ms MS] [-- CMD ARGS...]
  drain  stop new traffic, wait for current sessions to end, then put the server in maintenance; then run CMD
  ready  run CMD first, then put the server back into rotation and wait until HAProxy has it UP
  --server defaults to $HOIST_NODE; --timeout-ms defaults to 30000; --interval-ms (polling) to 100`;

/** An error with the exit code it maps to. */
class HookError extends Error {
  constructor(exitCode, message) {
    super(message);
    this.exitCode = exitCode;
  }
}

const COMMAND_TIMEOUT_MS = 5000;

/**
 * Sends one command to HAProxy's runtime API and resolves with its whole answer (HAProxy closes
 * the connection after answering when the command is not in interactive mode).
 * @throws HookError 4 when the socket cannot be used.
 */
function haproxyCommand(socket, command, timeoutMs = COMMAND_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const tcp = /^tcp:\/\/([^/]+):(\d+)$/.exec(socket);
    const connection = tcp ? connect(Number(tcp[2]), tcp[1]) : connect(socket);
    let answer = "";
    const timer = setTimeout(() => {
      connection.destroy();
      reject(new HookError(4, `HAProxy did not answer "${command}" on ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    connection.setEncoding("utf8");
    connection.on("data", (chunk) => (answer += chunk));
    connection.on("end", () => {
      clearTimeout(timer);
      if (/^Permission denied/m.test(answer)) {
        reject(new HookError(4, `HAProxy refused "${command}" on ${socket}: permission denied; the socket needs \`level admin\` (stats socket ${socket} mode 600 level admin)`));
        return;
      }
      resolve(answer);
    });
    connection.on("error", (err) => {
      clearTimeout(timer);
      const why =
        err.code === "ENOENT"
          ? "no such socket: is HAProxy running, and does its global section have `stats socket PATH mode 600 level admin`?"
          : err.code === "ECONNREFUSED"
            ? "nothing listens on it (HAProxy stopped, or the file is stale)"
            : err.code === "EACCES"
              ? "permission denied: run the hook as a user that may open the socket (its owner, or set `mode`/`user` on the stats socket line)"
              : err.message;
      reject(new HookError(4, `cannot use the HAProxy admin socket ${socket}: ${why}`));
    });
    connection.end(`${command}\n`);
  });
}

/** Splits one CSV line; fields in double quotes may hold commas and doubled quotes. */
function splitCsv(line) {
  const fields = [];
  let field = "";
  let quoted = false;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
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

/**
 * Every server of `backend` from `show stat`: name, status (UP, DOWN, DRAIN, MAINT, "UP 1/2",
 * "no check", ...), current sessions, queued requests and the last check's result.
 */
async function readServers(socket, backend) {
  const answer = await haproxyCommand(socket, "show stat -1 4 -1");
  const lines = answer.split("\n").filter((line) => line.trim() !== "");
  const header = lines.shift();
  if (!header || !header.startsWith("# ")) throw new HookError(1, `HAProxy answered "show stat" with something that is not its CSV: ${answer.trim().slice(0, 200)}`);
  const names = splitCsv(header.slice(2));
  const servers = [];
  for (const line of lines) {
    const values = splitCsv(line);
    const row = Object.fromEntries(names.map((name, index) => [name, values[index] ?? ""]));
    if (row.pxname !== backend || row.svname === "BACKEND" || row.svname === "FRONTEND") continue;
    servers.push({
      server: row.svname,
      status: row.status,
      sessions: Number(row.scur) || 0,
      queued: Number(row.qcur) || 0,
      check: [row.check_status, row.last_chk].filter(Boolean).join(" "),
    });
  }
  return servers;
}

async function readServer(socket, backend, server) {
  const servers = await readServers(socket, backend);
  const found = servers.find((entry) => entry.server === server);
  if (!found) {
    const known = servers.map((entry) => entry.server).join(", ");
    throw new HookError(1, known ? `HAProxy backend ${backend} has no server ${server} (it has: ${known})` : `HAProxy has no backend ${backend} with servers`);
  }
  return found;
}

async function setState(socket, backend, server, state) {
  const answer = (await haproxyCommand(socket, `set server ${backend}/${server} state ${state}`)).trim();
  if (answer !== "") throw new HookError(1, `HAProxy refused "set server ${backend}/${server} state ${state}": ${answer}`);
}

/** Runs CMD without a shell, output passed through; resolves when it exited 0. */
function runFollowUp(argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    const child = spawn(program, args, { stdio: ["ignore", "inherit", "inherit"], timeout: timeoutMs, killSignal: "SIGKILL" });
    child.once("error", (err) => reject(new HookError(5, `cannot run ${argv.join(" ")}: ${err.code === "ENOENT" ? `${program} not found (relative paths resolve against ${process.cwd()})` : err.message}`)));
    child.once("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new HookError(5, `${argv.join(" ")} ${signal ? `was killed by ${signal}${signal === "SIGKILL" ? ` (timeout ${timeoutMs} ms?)` : ""}` : `exited with code ${code}`}`));
    });
  });
}

async function drain({ socket, backend, server, timeoutMs, intervalMs, followUp }) {
  const deadline = Date.now() + timeoutMs;
  await readServer(socket, backend, server);
  await setState(socket, backend, server, "drain");
  log(`${backend}/${server}: draining (no new requests), waiting for current sessions to end`);
  for (;;) {
    const state = await readServer(socket, backend, server);
    if (state.sessions + state.queued === 0) break;
    if (Date.now() >= deadline) {
      throw new HookError(
        3,
        `${backend}/${server} still has ${state.sessions} session(s) and ${state.queued} queued request(s) after ${timeoutMs} ms; it stays in DRAIN (no new requests). Raise --timeout-ms, or put it back with \`haproxy-server.mjs ready\``,
      );
    }
    await sleep(intervalMs);
  }
  await setState(socket, backend, server, "maint");
  log(`${backend}/${server}: no sessions left; in maintenance (out of rotation)`);
  if (followUp.length > 0) await runFollowUp(followUp, Math.max(1000, deadline - Date.now()));
}

async function ready({ socket, backend, server, timeoutMs, intervalMs, followUp }) {
  const deadline = Date.now() + timeoutMs;
  await readServer(socket, backend, server);
  if (followUp.length > 0) await runFollowUp(followUp, Math.max(1000, deadline - Date.now()));
  await setState(socket, backend, server, "ready");
  for (;;) {
    const state = await readServer(socket, backend, server);
    // "UP 1/2" is in rotation but one failed check from DOWN: wait for a check to pass (plain "UP").
    if (state.status === "UP" || state.status === "no check") break;
    if (Date.now() >= deadline) {
      throw new HookError(
        3,
        `${backend}/${server} is ${state.status}, not UP, ${timeoutMs} ms after \`state ready\`; HAProxy's health check says: ${state.check || "nothing yet"}. Is the service listening where the server line points?`,
      );
    }
    await sleep(intervalMs);
  }
  log(`${backend}/${server}: back in rotation (UP)`);
}

function log(line) {
  process.stdout.write(`haproxy-server: ${line}\n`);
}

function parseCommandLine(argv) {
  const split = argv.indexOf("--");
  const own = split === -1 ? argv : argv.slice(0, split);
  const followUp = split === -1 ? [] : argv.slice(split + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        socket: { type: "string" },
        backend: { type: "string" },
        server: { type: "string" },
        "timeout-ms": { type: "string", default: "30000" },
        "interval-ms": { type: "string", default: "100" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new HookError(2, `${err.message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const action = positionals[0];
  const problems = [];
  if (action !== "drain" && action !== "ready") problems.push(`the first argument must be drain or ready (got ${action ?? "nothing"})`);
  if (positionals.length > 1) problems.push(`unexpected argument ${positionals[1]} (put the follow-up command after --)`);
  if (!values.socket) problems.push("--socket is required: the path of HAProxy's admin socket (stats socket ... level admin)");
  if (!values.backend) problems.push("--backend is required: the HAProxy backend holding this node's server");
  const server = values.server ?? process.env.HOIST_NODE;
  if (!server) problems.push("--server is required (or HOIST_NODE in the environment): the server's name in the backend");
  const timeoutMs = Number(values["timeout-ms"]);
  const intervalMs = Number(values["interval-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) problems.push(`--timeout-ms must be a positive whole number of milliseconds (got ${values["timeout-ms"]})`);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0) problems.push(`--interval-ms must be a positive whole number of milliseconds (got ${values["interval-ms"]})`);
  if (split !== -1 && followUp.length === 0) problems.push("nothing after --: give the follow-up command or drop the --");
  if (problems.length > 0) throw new HookError(2, `${problems.join("\n")}\n${USAGE}`);
  return { action, socket: values.socket, backend: values.backend, server, timeoutMs, intervalMs, followUp };
}

async function main() {
  const options = parseCommandLine(process.argv.slice(2));
  if (options.action === "drain") await drain(options);
  else await ready(options);
}

main().catch((err) => {
  process.stderr.write(`haproxy-server: ${err.message}\n`);
  process.exit(err instanceof HookError ? err.exitCode : 1);
});
