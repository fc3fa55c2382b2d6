import { findServiceInventory, minFreeBytes, type ObservedInventory } from "../../shared/inventory/index.ts";
import { formatBytes, formatMs } from "../../shared/format/index.ts";

/** The checks every node must pass before a rollout starts. */
export type PreflightCheckName = "answers" | "grpc" | "healthy" | "version" | "disk";

/** `skip`: not evaluated, because an earlier check already failed for the same cause. */
export type PreflightStatus = "pass" | "fail" | "skip";

export interface PreflightCheck {
  check: PreflightCheckName;
  status: PreflightStatus;
  /** What was found, in words; for a failure it also says what to do where that is not obvious. */
  message: string;
}

export interface NodePreflight {
  node: string;
  ok: boolean;
  checks: PreflightCheck[];
}

export interface PreflightResult {
  ok: boolean;
  nodes: NodePreflight[];
  /** Nodes that publish inventory for the cluster but are not in the plan. */
  unexpectedNodes: string[];
  /** One line per failure, `node n2: ...`; empty when ok. */
  messages: string[];
}

export interface PreflightInput {
  cluster: string;
  service: string;
  /** The nodes the plan covers. */
  nodes: readonly string[];
  /** What the coordinator last saw of each node; a missing entry is a node that never published. */
  inventories: Readonly<Record<string, ObservedInventory | undefined>>;
  /** The version the plan expects each node to run now. */
  expectedFrom: Readonly<Record<string, string>>;
  /** Free bytes each node needs for the snapshot and the release (a number applies to every node). */
  requiredBytes: number | Readonly<Record<string, number>>;
  now: number;
  /** A node whose inventory is older than this did not answer. */
  staleAfterMs: number;
  /** Nodes whose agent did not answer when asked just now, with why (see askInventories). */
  unanswered?: Readonly<Record<string, string>>;
  /**
   * Nodes whose gRPC endpoint could not be used with the rollout's settings, with why (see
   * probeAgentsGrpc); when given, every node gets a `grpc` check, which fails for these.
   */
  grpcUnreachable?: Readonly<Record<string, string>>;
}

const pass = (check: PreflightCheckName, message: string): PreflightCheck => ({ check, status: "pass", message });
const fail = (check: PreflightCheckName, message: string): PreflightCheck => ({ check, status: "fail", message });
const skip = (check: PreflightCheckName): PreflightCheck => ({ check, status: "skip", message: "not checked: the node did not answer" });

function checkNode(input: PreflightInput, node: string): NodePreflight {
  const observed = input.inventories[node];
  const expected = input.expectedFrom[node];
  const answers = checkAnswers(input, node, observed);
  const probed = input.grpcUnreachable !== undefined;
  if (answers.status === "fail" || !observed) {
    return { node, ok: false, checks: [answers, ...(probed ? [skip("grpc")] : []), skip("healthy"), skip("version"), skip("disk")] };
  }
  const service = findServiceInventory(observed.inventory, input.service);
  const checks: PreflightCheck[] = [answers];
  if (probed) checks.push(checkGrpc(input, node, observed));

  if (!service) checks.push(fail("healthy", `service ${input.service} is not installed`));
  else if (service.health !== "SERVING") checks.push(fail("healthy", `service ${input.service} is ${service.health}`));
  else if (service.activity !== "idle") {
    checks.push(fail("healthy", `service ${input.service} is busy (${service.activity}); wait for it to finish`));
  } else checks.push(pass("healthy", `service ${input.service} is SERVING`));

  const active = service?.activeVersion;
  if (!service) checks.push({ check: "version", status: "skip", message: "not checked: the service is not installed" });
  else if (active === undefined) checks.push(fail("version", `no active version of ${input.service}`));
  else if (expected !== undefined && active !== expected) {
    checks.push(fail("version", `version ${active} is not one the plan expects (${expected}); plan again`));
  } else checks.push(pass("version", `version ${active}`));

  const required = typeof input.requiredBytes === "number" ? input.requiredBytes : (input.requiredBytes[node] ?? 0);
  const free = minFreeBytes(observed.inventory);
  if (free === undefined) checks.push(fail("disk", "the agent reported no disks"));
  else if (free < required) {
    checks.push(fail("disk", `${formatBytes(free)} free, needs ${formatBytes(required)} for the snapshot and the release; free some space`));
  } else checks.push(pass("disk", `${formatBytes(free)} free, needs ${formatBytes(required)}`));

  return { node, ok: checks.every((check) => check.status === "pass"), checks };
}

function checkAnswers(input: PreflightInput, node: string, observed: ObservedInventory | undefined): PreflightCheck {
  if (!observed) return fail("answers", "never published its inventory; is the agent running?");
  const silent = input.unanswered?.[node];
  if (silent !== undefined) return fail("answers", `did not answer: ${silent}`);
  if (observed.inventory.cluster !== input.cluster) {
    return fail("answers", `belongs to cluster ${observed.inventory.cluster}, not ${input.cluster}`);
  }
  const age = input.now - observed.seenAt;
  if (age > input.staleAfterMs) {
    return fail("answers", `last seen ${formatMs(age)} ago (limit ${formatMs(input.staleAfterMs)}); is the agent running?`);
  }
  return pass("answers", `seen ${formatMs(Math.max(0, age))} ago`);
}

function checkGrpc(input: PreflightInput, node: string, observed: ObservedInventory): PreflightCheck {
  const address = observed.inventory.grpcAddress;
  if (!address) return fail("grpc", "publishes no gRPC address: the health gate needs the agent's gRPC server (set grpc: in its config)");
  const failure = input.grpcUnreachable?.[node];
  if (failure !== undefined) return fail("grpc", failure);
  return pass("grpc", `gRPC at ${address} answers with the rollout's settings`);
}

/**
 * Checks every node of the plan before a rollout starts: it answers (published inventory recently,
 * for this cluster, and its agent answered when asked, if the caller asked), its gRPC endpoint works with the rollout's TLS settings (when the caller probed it), its service is SERVING and idle, it runs the version the plan expects, and its
 * smallest disk has room for the snapshot and the release. Pure: the caller gathers the inventories.
 * `ok` only when every node passes every check and no unplanned node publishes for the cluster.
 */
export function runPreflight(input: PreflightInput): PreflightResult {
  const nodes = input.nodes.map((node) => checkNode(input, node));
  const planned = new Set(input.nodes);
  const unexpectedNodes = Object.entries(input.inventories)
    .filter(([node, observed]) => !planned.has(node) && observed?.inventory.cluster === input.cluster)
    .map(([node]) => node)
    .sort();
  const messages = [
    ...nodes.flatMap((result) => result.checks.filter((check) => check.status === "fail").map((check) => `node ${result.node}: ${check.message}`)),
    ...unexpectedNodes.map((node) => `node ${node}: is in cluster ${input.cluster} but not in the plan; plan again`),
  ];
  return { ok: messages.length === 0, nodes, unexpectedNodes, messages };
}
