import { Option, type Command } from "commander";
import type { BusAddress } from "../bus/open-bus.ts";
import { CLI_BUS_BUDGET_MS } from "../bus/cli-budget.ts";

/** The --nats flags of a command: where the control plane is (opened with `openBus`, coordinator/bus/open-bus.ts). */
export type BusFlags = BusAddress;

/** Adds --nats (and --nats-token) to a command: where the control plane is. */
export function withBusOptions(command: Command): Command {
  return command
    .addOption(new Option("--nats <urls>", "NATS server URL(s), comma-separated").env("HOIST_NATS_URL").default("nats://127.0.0.1:4222"))
    .addOption(new Option("--nats-token <token>", "NATS auth token").env("HOIST_NATS_TOKEN"))
    .addOption(new Option("--nats-replicas <n>", "replicas (1, 3 or 5) of HOIST_EVENTS and the KV buckets when they are created or aligned; default 3 on a NATS cluster of 3+ servers, else 1").env("HOIST_NATS_REPLICAS"))
    .addOption(new Option("--nats-wait-ms <ms>", "how long to wait out NATS/JetStream trouble (timeouts, a restarting server) before failing").default(String(CLI_BUS_BUDGET_MS)));
}
