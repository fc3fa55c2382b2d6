import { formatBytes } from "../../shared/format/index.ts";
import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { toHoistError, type HoistError } from "../../shared/errors/index.ts";
import type { AgentClient, AgentClientOptions, NodeInventory, ServiceInventory, UpgradeOutcome } from "../../shared/proto/index.ts";

/** Options of `hoist agent status`. */
export interface AgentStatusOptions extends AgentClientOptions {
  /** Agent address, HOST:PORT. */
  target: string;
  /** Print the inventory as JSON instead of a table. */
  json?: boolean;
  /** File holding the bearer token (first line); used when `token` is not given. */
  tokenFile?: string;
  /** Deadline of the inventory call. Default 10 000 ms. */
  deadlineMs?: number;
  /** Where output goes; default process.stdout / process.stderr. */
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
}

/**
 * Asks the agent at `target` for its inventory over gRPC and prints it, as a table or as JSON.
 * Returns the exit code: 0 printed; 2 bad options (INVALID_ARGUMENT); 1 anything else (agent
 * unreachable, refused, timed out ...). Errors go to stderr, or to stdout as
 * `{ "error": { code, message, retryable } }` with --json. Never throws.
 */
export async function runAgentStatus(options: AgentStatusOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  let client: AgentClient | undefined;
  try {
    // Loaded here, not at the top: `hoist` registers this command at every start, gRPC is needed only when it runs.
    const { createAgentClient } = await import("../../shared/proto/index.ts");
    const token = options.token ?? (options.tokenFile === undefined ? undefined : await readToken(options.tokenFile));
    client = createAgentClient(options.target, {
      insecure: options.insecure,
      caFile: options.caFile,
      certFile: options.certFile,
      keyFile: options.keyFile,
      serverName: options.serverName,
      token,
    });
    const inventory = await client.getInventory({ deadlineMs: options.deadlineMs ?? 10_000 });
    stdout.write(options.json ? `${JSON.stringify(inventory, null, 2)}\n` : `${formatInventory(inventory)}\n`);
    return 0;
  } catch (err) {
    const error = toHoistError(err);
    if (options.json) stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message, retryable: error.retryable } }, null, 2)}\n`);
    else stderr.write(`hoist agent status: error [${error.code}]: ${error.message}\n`);
    return exitCodeFor(error);
  } finally {
    client?.close();
  }
}

function exitCodeFor(error: HoistError): number {
  return error.code === "INVALID_ARGUMENT" || error.code === "CONFIG_INVALID" ? 2 : 1;
}

async function readToken(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).split(/\r?\n/, 1)[0]!.trim();
  } catch (err) {
    throw toHoistError(err, "INVALID_ARGUMENT");
  }
}

/** The inventory as a readable table: header, one row per service, then host facts. */
export function formatInventory(inventory: NodeInventory): string {
  const header = `node ${inventory.node}  cluster ${inventory.cluster}  agent ${inventory.agentVersion || "?"}`;
  const rows = inventory.services.map((service) => [
    service.name,
    service.activeVersion ?? "-",
    service.activeSha256 ? service.activeSha256.slice(0, 12) : "-",
    service.health,
    service.activity,
    formatReleases(service),
    formatSnapshots(service),
    formatOutcome(service.lastUpgrade),
  ]);
  const table = formatTable(["SERVICE", "ACTIVE", "SHA256", "HEALTH", "ACTIVITY", "RELEASES", "SNAPSHOTS", "LAST RESULT"], rows);
  const host = inventory.host;
  const hostLines = [
    "host",
    `  hostname  ${host.hostname}`,
    `  os        ${host.os} (kernel ${host.kernel}, ${host.arch})`,
    `  cpu       ${host.cpuModel || "?"}, ${host.cpuCores} cores`,
    `  memory    ${formatBytes(host.memFreeBytes)} free of ${formatBytes(host.memTotalBytes)}`,
    `  uptime    ${formatDuration(host.uptimeSeconds)}`,
    ...host.disks.map((disk, index) => `  ${index === 0 ? "disks " : "      "}    ${disk.path}  ${formatBytes(disk.freeBytes)} free of ${formatBytes(disk.totalBytes)}`),
    `  read at   ${host.readAt}`,
  ];
  return [header, "", inventory.services.length === 0 ? "no managed services" : table, "", ...hostLines].join("\n");
}

function formatReleases(service: ServiceInventory): string {
  if (service.releases.length === 0) return "-";
  return service.releases.map((release) => (release.active ? `${release.version}*` : release.version)).join(",");
}

function formatSnapshots(service: ServiceInventory): string {
  if (service.snapshots.length === 0) return "0";
  const newest = service.snapshots.reduce((a, b) => (a.createdAt >= b.createdAt ? a : b));
  return `${service.snapshots.length} (newest ${newest.createdAt.slice(0, 16).replace("T", " ")})`;
}

function formatOutcome(outcome: UpgradeOutcome | undefined): string {
  if (!outcome) return "-";
  const error = outcome.error ? ` [${outcome.error.code}]` : "";
  return `${outcome.result} ${outcome.from ?? "-"}->${outcome.to}${error} ${outcome.finishedAt.slice(0, 16).replace("T", " ")}`;
}

function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Seconds as "2d 3h 4m" (or "42s" under a minute). */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return [days ? `${days}d` : "", days || hours ? `${hours}h` : "", `${minutes}m`].filter(Boolean).join(" ");
}

/**
 * Adds `hoist agent status --target HOST:PORT [--json] [--insecure] [--ca F] [--cert F --key F]
 * [--token-file F] [--server-name N] [--timeout MS]` under the program's `agent` command (created
 * when missing). The token may also come from HOIST_AGENT_TOKEN (read by commander at the CLI edge).
 * Sets process.exitCode from runAgentStatus.
 */
export function registerAgentStatusCommand(program: Command): Command {
  const agent = program.commands.find((command) => command.name() === "agent") ?? program.command("agent").description("talk to a node's agent over gRPC");
  return agent
    .command("status")
    .description("show an agent's inventory over gRPC: services, active release and sha256, health, releases, snapshots, last result, host facts")
    .requiredOption("--target <host:port>", "agent gRPC address")
    .option("--json", "print the inventory as JSON")
    .option("--insecure", "plaintext, no TLS (only agents listening on loopback accept it)")
    .option("--ca <file>", "CA certificate (PEM) that signed the agent's certificate; default: system CAs")
    .option("--cert <file>", "client certificate (PEM), for agents requiring mutual TLS")
    .option("--key <file>", "key (PEM) of --cert")
    .option("--token-file <file>", "file holding the agent's bearer token")
    .addOption(new Option("--token <token>", "bearer token (visible in ps: prefer --token-file)").env("HOIST_AGENT_TOKEN"))
    .option("--server-name <name>", "name the agent's certificate carries, when not the target host")
    .option("--timeout <ms>", "deadline of the call", (value) => Number.parseInt(value, 10), 10_000)
    .action(async (flags: { target: string; json?: boolean; insecure?: boolean; ca?: string; cert?: string; key?: string; tokenFile?: string; token?: string; serverName?: string; timeout: number }) => {
      process.exitCode = await runAgentStatus({
        target: flags.target,
        json: flags.json,
        insecure: flags.insecure,
        caFile: flags.ca,
        certFile: flags.cert,
        keyFile: flags.key,
        tokenFile: flags.tokenFile,
        token: flags.token,
        serverName: flags.serverName,
        deadlineMs: flags.timeout,
      });
    });
}
