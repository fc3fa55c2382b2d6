import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { NatsConnection } from "nats";
import type { Catalog } from "../../shared/catalog/index.ts";
import { parse, stringify } from "yaml";
import { withBusOptions } from "../../coordinator/cli/bus-options.ts";
import { encodeJson, toBusError } from "../../shared/bus/index.ts";
import { parseWithSchema } from "../../shared/config/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import {
  desiredKey,
  desiredRolloutSchema,
  formatDuration,
  formatRolloutStatus,
  KV_CATALOG,
  loadKey,
  parseDuration,
  pinRefusal,
  readPushedCatalog,
  resolveDesired,
  rolloutStatus,
  signText,
  simulateRollout,
  storedDesiredSchema,
  unattendedEventsSubject,
  unattendedNotifySubject,
  type Control,
  type UnattendedStore,
} from "../../shared/unattended/index.ts";
import { readKnownNodes } from "./known-nodes.ts";
import { openRollout, parseUntil, readResolved, type RolloutFlags } from "./open-rollout.ts";
import { registerReleasePushCommand } from "./release-push.ts";

function withRollout(command: Command): Command {
  return withBusOptions(command).requiredOption("--cluster <id>", "cluster").requiredOption("--service <name>", "service");
}

/** `hoist unattended ...`: the operator's side of agent-driven rollouts (docs/unattended.md), and `hoist release push`. */
export function registerUnattendedCommands(program: Command): void {
  const unattended = program.command("unattended").description("agent-driven rollouts: set the desired state once, the agents bring the fleet there in their windows (docs/unattended.md)");

  withBusOptions(unattended.command("set"))
    .description("store a desired-state document (validated, revisioned, optionally signed) and tell every agent")
    .requiredOption("-f, --file <rollout.yaml>", "the UnattendedRollout document")
    .option("--sign-key <pem>", "ed25519 private key (PEM) to sign the document with")
    .action(async (flags: RolloutFlags & { file: string; signKey?: string }) => {
      let raw: unknown;
      try {
        raw = parse(await readFile(flags.file, "utf8"));
      } catch (err) {
        throw new HoistError("CONFIG_INVALID", `cannot read ${flags.file}: ${(err as Error).message}`, { cause: err });
      }
      const doc = parseWithSchema(desiredRolloutSchema, raw, flags.file);
      const text = JSON.stringify(raw);
      const signature = flags.signKey ? signText(text, await loadKey(flags.signKey, "private")) : undefined;
      const open = await openRollout(flags, "hoist unattended set");
      try {
        const revision = await open.store.putDesired(doc.cluster, doc.service, { text, ...(signature ? { signature } : {}), setAt: Date.now() });
        if (doc.target) await open.bus.buckets.desired.put(`${doc.cluster}.${doc.service}`, encodeJson(doc.target));
        process.stdout.write(`desired state of ${doc.cluster}/${doc.service} stored as revision ${revision}${signature ? ` (signed by key ${signature.keyId})` : ""}\n`);
      } finally {
        await open.close();
      }
    });

  withRollout(unattended.command("get"))
    .description("print the stored desired-state document")
    .option("--revision <n>", "an older revision")
    .action(async (flags: RolloutFlags & { revision?: string }) => {
      const open = await openRollout(flags, "hoist unattended get");
      try {
        const stored = await open.store.readDesired(flags.cluster, flags.service, flags.revision === undefined ? undefined : Number(flags.revision));
        if (!stored) throw new HoistError("NOT_FOUND", `no desired state for ${flags.cluster}/${flags.service}`);
        process.stdout.write(
          `# revision ${stored.revision}, set ${new Date(stored.value.setAt).toISOString()}${stored.value.signature ? `, signed by key ${stored.value.signature.keyId}` : ", unsigned"}\n${stringify(JSON.parse(stored.value.text))}`,
        );
      } finally {
        await open.close();
      }
    });

  withRollout(unattended.command("suspend"))
    .description("no node starts an upgrade (within 2 s, by push); in-flight nodes finish or roll back")
    .option("--reason <text>", "why", "suspended by an operator")
    .action(async (flags: RolloutFlags & { reason: string }) => {
      await changeControl(flags, "suspend", (control, now) => ({ ...control, suspended: { reason: flags.reason, at: now, by: "operator" } }));
      process.stdout.write(`${flags.cluster}/${flags.service} suspended: ${flags.reason}\n`);
    });

  withRollout(unattended.command("resume"))
    .description("let agents start upgrades again (also after the failure budget suspended the rollout)")
    .option("--reset-failures", "forget the failures charged so far (a fresh budget)")
    .action(async (flags: RolloutFlags & { resetFailures?: boolean }) => {
      await changeControl(flags, "resume", (control) => {
        const { suspended: _suspended, ...rest } = control;
        return flags.resetFailures ? { ...rest, failures: [] } : rest;
      });
      process.stdout.write(`${flags.cluster}/${flags.service} resumed\n`);
    });

  withRollout(unattended.command("hold <node>"))
    .description("keep NODE from starting until a time")
    .requiredOption("--until <time>", "ISO time or duration from now (2h)")
    .requiredOption("--reason <text>", "why")
    .action(async (node: string, flags: RolloutFlags & { until: string; reason: string }) => {
      const until = parseUntil(flags.until, Date.now(), parseDuration);
      await changeControl(flags, "hold", (control) => ({ ...control, holds: { ...control.holds, [node]: { until, reason: flags.reason } } }), { node, until: new Date(until).toISOString() });
      process.stdout.write(`${node} held until ${new Date(until).toISOString()}: ${flags.reason}\n`);
    });

  withRollout(unattended.command("pin <node> [version]"))
    .description("keep NODE on VERSION (it upgrades to it, and no further); without VERSION, unpin")
    .action(async (node: string, version: string | undefined, flags: RolloutFlags) => {
      if (version !== undefined) await refuseBadPin(flags, node, version);
      await changeControl(
        flags,
        "pin",
        (control) => {
          const pins = { ...control.pins };
          if (version === undefined) delete pins[node];
          else pins[node] = version;
          return { ...control, pins };
        },
        { node, ...(version ? { version } : {}) },
      );
      process.stdout.write(version ? `${node} pinned to ${version}\n` : `${node} unpinned\n`);
    });

  withRollout(unattended.command("release-slot <node>"))
    .description("free the slots NODE holds (a charged, silent holder), recorded as an event with your acknowledgement")
    .requiredOption("--ack <reason>", "what you checked on the node")
    .action(async (node: string, flags: RolloutFlags & { ack: string }) => {
      const open = await openRollout(flags, "hoist unattended release-slot");
      try {
        const snapshot = await open.store.readRollout(flags.cluster, flags.service);
        const held = snapshot.slots.filter((slot) => slot.node === node);
        if (held.length === 0) throw new HoistError("NOT_FOUND", `${node} holds no slot of ${flags.cluster}/${flags.service}`);
        for (const slot of held) await open.store.releaseSlot(flags.cluster, flags.service, slot.wave, slot.index, slot.revision);
        const now = Date.now();
        await open.store.updateControl(flags.cluster, flags.service, (control) => ({ ...control, releases: [...control.releases, ...held.map((slot) => ({ node, wave: slot.wave, ack: flags.ack, at: now }))].slice(-50) }));
        open.bus.nc.publish(
          unattendedEventsSubject(flags.cluster),
          encodeJson({ type: "slot-released", node, service: flags.service, slots: held.map((slot) => `${slot.wave}.${slot.index}`), ack: flags.ack, at: new Date(now).toISOString() }),
        );
        await open.bus.nc.flush();
        process.stdout.write(`freed ${held.map((slot) => `${slot.wave}.${slot.index}`).join(", ")} held by ${node}: ${flags.ack}\n`);
      } finally {
        await open.close();
      }
    });

  withRollout(unattended.command("rollback"))
    .description("take the fleet back to the previous target, wave by wave in reverse order, through the same slots and windows")
    .option("--to <version>", "the version to go back to (default: the target of the previous revision)")
    .option("--cancel", "stop rolling back (the fleet goes to the document's target again)")
    .action(async (flags: RolloutFlags & { to?: string; cancel?: boolean }) => {
      const open = await openRollout(flags, "hoist unattended rollback");
      try {
        const { desired } = await readResolved(open.store, flags.cluster, flags.service);
        let to = flags.to;
        if (!flags.cancel && to === undefined) to = await previousTarget(open.store, flags.cluster, flags.service, desired.target);
        const from = desired.target ?? "";
        await open.store.updateControl(flags.cluster, flags.service, (control) => {
          const { rollback: _rollback, ...rest } = control;
          return flags.cancel || to === undefined ? rest : { ...rest, rollback: { to, from, at: Date.now() } };
        });
        process.stdout.write(flags.cancel ? "rollback cancelled\n" : `rolling ${flags.cluster}/${flags.service} back from ${from} to ${to}\n`);
      } finally {
        await open.close();
      }
    });

  withRollout(unattended.command("status"))
    .description("per wave the counts by state and slot holders, the failure budget, per node its state, reason and next eligible time")
    .option("--json", "print as JSON")
    .option("--follow", "print again on every change until interrupted")
    .action(async (flags: RolloutFlags & { json?: boolean; follow?: boolean }) => {
      const open = await openRollout(flags, "hoist unattended status");
      try {
        const print = async () => {
          const { snapshot, desired } = await readResolved(open.store, flags.cluster, flags.service);
          const now = Date.now();
          const status = rolloutStatus(desired, snapshot, now, await readKnownNodes(open.bus.nc, flags.cluster, flags.service));
          process.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : `${formatRolloutStatus(status, now)}\n${flags.follow ? "\n" : ""}`);
        };
        await print();
        if (!flags.follow) return;
        const changes = open.bus.nc.subscribe(unattendedNotifySubject(flags.cluster, flags.service));
        const events = open.bus.nc.subscribe(unattendedEventsSubject(flags.cluster));
        let pending = false;
        const schedule = () => {
          if (pending) return;
          pending = true;
          setTimeout(() => {
            pending = false;
            print().catch((err: unknown) => process.stderr.write(`hoist: ${(err as Error).message}\n`));
          }, 250);
        };
        const timer = setInterval(schedule, 5000);
        process.once("SIGINT", () => {
          clearInterval(timer);
          changes.unsubscribe();
          events.unsubscribe();
        });
        await Promise.all([
          (async () => {
            for await (const _ of changes) schedule();
          })(),
          (async () => {
            for await (const _ of events) schedule();
          })(),
        ]);
      } finally {
        await open.close();
      }
    });

  withRollout(unattended.command("plan"))
    .description("forecast when each node would update (--simulate): windows, slots, soak and the durations observed so far; names waves that cannot finish inside their windows")
    .option("--simulate", "forecast (the only mode)", true)
    .option("--assume-duration <duration>", "an upgrade's duration while none was observed", "2m")
    .option("--json", "print as JSON")
    .action(async (flags: RolloutFlags & { assumeDuration: string; json?: boolean }) => {
      const assumed = parseDuration(flags.assumeDuration);
      if (assumed === undefined) throw new HoistError("INVALID_ARGUMENT", `--assume-duration must be a duration such as 2m, got ${flags.assumeDuration}`);
      const open = await openRollout(flags, "hoist unattended plan");
      try {
        const { snapshot, desired } = await readResolved(open.store, flags.cluster, flags.service);
        const now = Date.now();
        const simulation = simulateRollout(desired, snapshot, now, assumed);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(simulation)}\n`);
          return;
        }
        const lines = [`upgrade duration: ${formatDuration(simulation.durationMs)} (${simulation.durationFrom})`];
        for (const wave of simulation.waves) {
          lines.push(
            `wave ${wave.name}: ${wave.nodes} node(s)${wave.startAt ? ` from ${new Date(wave.startAt).toISOString()} to ${new Date(wave.endAt!).toISOString()}` : " (nothing to do)"}${wave.overrun ? `  CANNOT FINISH INSIDE ITS WINDOW: ${wave.overrun}` : ""}`,
          );
          for (const node of simulation.nodes.filter((entry) => entry.wave === wave.name)) lines.push(`  ${node.node.padEnd(12)} ${new Date(node.startAt).toISOString()} -> ${new Date(node.endAt).toISOString()}`);
        }
        if (simulation.endAt) lines.push(`done by ${new Date(simulation.endAt).toISOString()}`);
        process.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        await open.close();
      }
    });

  withBusOptions(unattended.command("channel <name> <version>"))
    .description("make channel NAME name VERSION in a cluster (documents with channel: NAME follow it)")
    .requiredOption("--cluster <id>", "cluster")
    .option("--services <names>", "services to tell at once (comma-separated)", "")
    .action(async (name: string, version: string, flags: RolloutFlags & { services: string }) => {
      const open = await openRollout(flags, "hoist unattended channel");
      try {
        await open.store.putChannel(flags.cluster, name, version, flags.services.split(",").filter(Boolean));
        process.stdout.write(`channel ${name} of ${flags.cluster} now names ${version}\n`);
      } finally {
        await open.close();
      }
    });

  registerReleasePushCommand(program);
}

/**
 * Refuses a pin the node could never carry out (older than it runs, or not in the pushed catalog).
 * @throws HoistError DOWNGRADE_REFUSED, NOT_FOUND.
 */
async function refuseBadPin(flags: RolloutFlags, node: string, version: string): Promise<void> {
  const open = await openRollout(flags, "hoist unattended pin");
  try {
    const catalog = await readCatalogForPin(open.bus.nc, flags.cluster);
    const report = await open.store.readReport(flags.cluster, flags.service, node);
    const refusal = pinRefusal(catalog, flags.service, node, report?.version, version);
    if (refusal) throw new HoistError(refusal.code, refusal.message, { details: { node, version, running: report?.version } });
  } finally {
    await open.close();
  }
}

/**
 * The pushed catalog a pin is checked against; undefined when none was pushed (no catalog bucket or
 * key: the node checks the pin itself). Any other failure refuses the pin rather than letting an
 * unchecked one through.
 * @throws HoistError UNAVAILABLE (NATS trouble: try again), CONFIG_INVALID (the stored catalog is not valid).
 */
async function readCatalogForPin(nc: NatsConnection, cluster: string): Promise<Catalog | undefined> {
  const what = "reading the pushed catalog to check the pin (try again)";
  try {
    const kv = await nc.jetstream().views.kv(KV_CATALOG, { bindOnly: true });
    return await readPushedCatalog(kv, cluster, []);
  } catch (err) {
    if (!(err instanceof HoistError) && /stream not found/i.test((err as Error).message)) return undefined;
    throw toBusError(err, what, "UNAVAILABLE");
  }
}

async function changeControl(flags: RolloutFlags, what: string, change: (control: Control, now: number) => Control, event: Record<string, unknown> = {}): Promise<void> {
  const open = await openRollout(flags, `hoist unattended ${what}`);
  try {
    const now = Date.now();
    await open.store.updateControl(flags.cluster, flags.service, (control) => change(control, now));
    open.bus.nc.publish(unattendedEventsSubject(flags.cluster), encodeJson({ type: what, service: flags.service, by: "operator", at: new Date(now).toISOString(), ...event }));
    await open.bus.nc.flush();
  } finally {
    await open.close();
  }
}

/** The target of the newest earlier revision of the desired state that named another version. */
async function previousTarget(store: UnattendedStore, cluster: string, service: string, current: string | undefined): Promise<string> {
  const history = await store.kv.history({ key: desiredKey(cluster, service) });
  const targets: string[] = [];
  for await (const entry of history) {
    if (entry.operation !== "PUT") continue;
    const resolved = await resolveDesired(store, storedDesiredSchema.parse(JSON.parse(new TextDecoder().decode(entry.value)))).catch(() => undefined);
    if (resolved?.target) targets.push(resolved.target);
  }
  const previous = targets.reverse().find((target) => target !== current);
  if (!previous) throw new HoistError("NOT_FOUND", `no earlier revision of ${cluster}/${service} names another version than ${current ?? "(none)"}; give --to VERSION`);
  return previous;
}
