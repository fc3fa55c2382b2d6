import type { Command } from "commander";
import { HoistError } from "../../shared/errors/index.ts";
import { createProgressPrinter } from "./progress-printer.ts";
import { formatNodeStatus, formatOutcomeLine } from "./format-status.ts";
import type { AgentCliOptions } from "./open-agent.ts";
import type { UpgradeOutcome } from "../node-agent-api.ts";
import { AGENT_VERSION } from "../version.ts";

// Each action imports what it needs when it runs (`await import`), so that `hoist --help` and the
// other commands do not load the agent (and its dependencies) at start.
async function openAgent(...args: Parameters<typeof import("./open-agent.ts").openAgent>) {
  return (await import("./open-agent.ts")).openAgent(...args);
}

interface JsonFlag {
  json?: boolean;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints an upgrade/rollback outcome and sets the exit code: 0 only when it reached its goal. */
function reportOutcome(outcome: UpgradeOutcome, json: boolean | undefined, goal: UpgradeOutcome["result"][]): void {
  if (json) printJson(outcome);
  else process.stdout.write(`${outcome.service}: ${formatOutcomeLine(outcome)}\n`);
  if (!goal.includes(outcome.result)) process.exitCode = 1;
}

function withCommonOptions(command: Command): Command {
  return command
    .requiredOption("-c, --config <file>", "agent config file (YAML)")
    .option("-s, --service <name>", "managed service (may be left out when the config has only one)")
    .option("-v, --verbose", "log debug details to stderr");
}

/** Registers the single-node commands: upgrade, rollback, status, snapshot. */
export function registerAgentCommands(program: Command): void {
  withCommonOptions(program.command("upgrade"))
    .description("upgrade one service on this node: stage, drain, stop, snapshot, switch, migrate, start, verify, rejoin, commit; roll back on failure")
    .requiredOption("-t, --to <version>", "version to upgrade to (every hop from the catalog is run in order)")
    .option("--catalog <file>", "catalog file (defaults to `catalog:` in the agent config)")
    .option("--artifact <path-or-url>", "release tarball to install directly (one hop, no migrations); needs --sha256")
    .option("--sha256 <hex>", "expected sha256 of --artifact")
    .option("--size <bytes>", "expected size of --artifact in bytes", (value) => Number.parseInt(value, 10))
    .option("--allow-downgrade", "allow going to an older version than the active one")
    .option("--key <key>", "idempotency key: repeating the command with it returns the recorded result")
    .option("--json", "print the outcome as JSON")
    .action(async (options: AgentCliOptions & JsonFlag & { to: string; artifact?: string; sha256?: string; size?: number; allowDowngrade?: boolean; key?: string }) => {
      if (options.artifact !== undefined && options.sha256 === undefined) {
        throw new HoistError("INVALID_ARGUMENT", "--artifact needs --sha256 (the artifact is checked before it is unpacked)");
      }
      const { agent, service } = await openAgent(options, "owner", "hoist upgrade");
      const printer = createProgressPrinter();
      const outcome = await agent.upgrade(
        {
          service,
          to: options.to,
          allowDowngrade: options.allowDowngrade ?? false,
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(options.artifact === undefined ? {} : { artifact: { url: options.artifact, sha256: options.sha256!, ...(options.size === undefined ? {} : { size: options.size }) } }),
        },
        { onProgress: printer },
      );
      printer.done();
      reportOutcome(outcome, options.json, ["committed", "noop"]);
    });

  withCommonOptions(program.command("rollback"))
    .description("roll the service back: finish a failed operation's rollback, or undo the last committed upgrade (today's data is kept as a snapshot first)")
    .option("--json", "print the outcome as JSON")
    .action(async (options: AgentCliOptions & JsonFlag) => {
      const { agent, service } = await openAgent(options, "owner", "hoist rollback");
      const printer = createProgressPrinter();
      const outcome = await agent.rollback(service, { onProgress: printer });
      printer.done();
      reportOutcome(outcome, options.json, ["rolled-back"]);
    });

  withCommonOptions(program.command("finalize"))
    .description("make the permanent migrations of the last upgrade(s) final: rollback to before them is refused from now on, and the release and snapshot kept for it are removed by retention")
    .option("--json", "print what was finalized and removed as JSON")
    .action(async (options: AgentCliOptions & JsonFlag) => {
      const { agent, service } = await openAgent(options, "owner", "hoist finalize");
      const result = await agent.finalize(service);
      if (options.json) return printJson(result);
      for (const done of result.finalized) process.stdout.write(`${service}: finalized ${done.release} (rollback to ${done.before} is no longer possible)\n`);
      const removed = [...result.removed.releases.map((version) => `release ${version}`), ...result.removed.snapshots.map((id) => `snapshot ${id}`)];
      process.stdout.write(`${service}: removed ${removed.length === 0 ? "nothing" : removed.join(", ")}\n`);
    });

  withCommonOptions(program.command("status"))
    .description("show the active release, its artifact sha256, releases and snapshots on disk, the last upgrade result, and an operation in progress (read-only: never resumes or changes anything)")
    .option("--json", "print as JSON")
    .action(async (options: AgentCliOptions & JsonFlag) => {
      // A read-only path: the config, the disk and the probes, not the whole agent (bench/cli-start.bench.ts).
      const [{ loadAgentConfig }, { pickService }, { readServicesReadOnly }, { formatOperation, readOperation }] = await Promise.all([
        import("../config.ts"),
        import("./pick-service.ts"),
        import("../services/read-only-inventory.ts"),
        import("./operation-status.ts"),
      ]);
      const config = await loadAgentConfig(options.config);
      // Without --service, every service of the node; with it, only that one is read and probed.
      const only = options.service === undefined ? undefined : pickService(config, options.service);
      const inventory = { node: config.node, cluster: config.cluster, agentVersion: AGENT_VERSION, services: await readServicesReadOnly(config, only) };
      const services = await Promise.all(
        inventory.services.map(async (service) => {
          const operation = await readOperation(config, service.name);
          return operation ? { ...service, operation } : service;
        }),
      );
      if (options.json) return printJson({ node: inventory.node, cluster: inventory.cluster, services });
      process.stdout.write(`${formatNodeStatus({ ...inventory, services }, options.service)}\n`);
      for (const service of services) if ("operation" in service) process.stdout.write(`${service.name}: ${formatOperation(service.operation).trim()}\n`);
    });

  withCommonOptions(program.command("recover"))
    .description("take over the node's state after a crash: kill hooks the dead process left running, then finish or roll back every interrupted operation (what `hoist agent run` does at start)")
    .option("--json", "print what was recovered as JSON")
    .action(async (options: AgentCliOptions & JsonFlag) => {
      const { agent } = await openAgent(options, "owner", "hoist recover");
      const killed = agent.reapedProcesses().filter((reaped) => reaped.killed.length > 0);
      const outcomes = agent.resumedOperations();
      if (options.json) return printJson({ killed: killed.map((reaped) => ({ process: reaped.entry.label, argv: reaped.entry.argv, pids: reaped.killed })), outcomes });
      for (const reaped of killed) process.stdout.write(`killed ${reaped.entry.label} (${reaped.entry.argv.join(" ")}), left running since ${reaped.entry.startedAt}\n`);
      for (const outcome of outcomes) process.stdout.write(`${outcome.service}: ${formatOutcomeLine(outcome)}\n`);
      if (outcomes.length === 0) process.stdout.write("nothing was interrupted\n");
      if (outcomes.some((outcome) => outcome.result === "failed")) process.exitCode = 1;
    });

  const snapshot = program.command("snapshot").description("create, list, verify and restore snapshots of a service's data dirs");
  withCommonOptions(snapshot.command("create"))
    .description("snapshot every data dir of the service (tar + manifest of sha256 per file), then verify it")
    .option("--label <text>", "label stored with the snapshot")
    .option("--json", "print as JSON")
    .action(async (options: AgentCliOptions & JsonFlag & { label?: string }) => {
      const { agent, service } = await openAgent(options, "owner", "hoist snapshot create");
      const printer = createProgressPrinter();
      const summary = await agent.snapshot(service, { onProgress: printer, ...(options.label === undefined ? {} : { label: options.label }) });
      printer.done();
      if (options.json) printJson(summary);
      else process.stdout.write(`snapshot ${summary.id}: ${summary.files} files, ${summary.bytes} bytes, verified\n`);
    });
  withCommonOptions(snapshot.command("list"))
    .description("list snapshots, newest first")
    .option("--json", "print as JSON")
    .action(async (options: AgentCliOptions & JsonFlag) => {
      const { agent, service } = await openAgent(options, "reader", "hoist snapshot list");
      const snapshots = await agent.listSnapshots(service);
      if (options.json) return printJson(snapshots);
      if (snapshots.length === 0) return void process.stdout.write("no snapshots\n");
      for (const item of snapshots) {
        process.stdout.write(`${item.id}  ${item.createdAt}  version ${item.version ?? "-"}  ${item.files} files  ${item.bytes} bytes  ${item.label ?? ""}\n`);
      }
    });
  withCommonOptions(snapshot.command("verify"))
    .description("check a snapshot's archives against their manifest (sha256 of every file)")
    .argument("<id>", "snapshot id (see `hoist snapshot list`)")
    .action(async (id: string, options: AgentCliOptions) => {
      const { agent, service } = await openAgent(options, "reader", "hoist snapshot verify");
      await agent.verifySnapshot(service, id, { onProgress: createProgressPrinter() });
      process.stdout.write(`snapshot ${id}: ok\n`);
    });
  withCommonOptions(snapshot.command("restore"))
    .description("verify the snapshot, stop the service, make its data dirs byte-identical to the snapshot, start and verify it (a refused or failed restore starts the service again)")
    .argument("<id>", "snapshot id (see `hoist snapshot list`)")
    .action(async (id: string, options: AgentCliOptions) => {
      const { agent, service } = await openAgent(options, "owner", "hoist snapshot restore");
      const printer = createProgressPrinter();
      await agent.restore(service, id, { onProgress: printer });
      printer.done();
      process.stdout.write(`restored snapshot ${id}\n`);
    });
}
