import type { Control, NodeReport, Slot } from "./records.ts";
import type { DesiredRollout, Wave } from "./schema.ts";
import { assignWaves, slotCount } from "./waves.ts";
import { windowPosition } from "./window.ts";

/** Why a node waits (one code each; docs/unattended.md lists them). */
export const WAIT_REASONS = [
  "no-target", // the document names a channel that names no version yet
  "on-target", // the node runs the target
  "pinned", // the node is pinned to the version it runs
  "suspended", // the rollout is suspended (operator, or the budget was spent)
  "held", // `hoist unattended hold` until nextEligibleAt
  "quarantined", // the target failed on quarantineAfter distinct nodes
  "budget-spent", // the failure budget is spent
  "failed-here", // this node already failed this version; it does not retry it
  "backoff", // an environment failure (fetch, disk); retried at nextEligibleAt
  "previous-wave", // an earlier wave has not completed
  "soaking", // the previous wave completed; its soakAfter ends at nextEligibleAt
  "late-arriver-never", // the node missed its wave and the policy is never
  "outside-window", // the wave's window is closed (or past its cutoff) until nextEligibleAt
  "slots-full", // every slot of the wave is taken
] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

/** The desired document with what readers resolved: the target (a channel looked up) and when it was set. */
export interface ResolvedDesired {
  doc: DesiredRollout;
  /** The version `target` names, or the channel's; undefined when the channel names none. */
  target: string | undefined;
  setAt: number;
}

/** The node deciding (or being explained): id, labels, running version, environment back-off. */
export interface NodeFacts {
  node: string;
  labels: Readonly<Record<string, string>>;
  version: string | undefined;
  backoffUntil?: number | undefined;
}

/** What every node reads before deciding: the other nodes' reports, the slots, the control record. */
export interface FleetView {
  nodes: readonly NodeReport[];
  slots: readonly (Slot & { index: number })[];
  control: Control;
}

export type UnattendedDecision =
  | {
      action: "act";
      /** upgrade: to the target through the catalog path; rollback: back to `to` (hoist unattended rollback). */
      kind: "upgrade" | "rollback";
      to: string;
      wave: string;
      /** The slot index to take (or the one this node already holds). */
      slot: number;
      /** The node already holds this slot (it resumes after a restart). */
      holding: boolean;
    }
  | { action: "wait"; reason: WaitReason; wave?: string; nextEligibleAt?: number; detail?: string };

/** The version the fleet goes to now and the wave order: the rollback's `to` with waves reversed, else the target. */
export function effectivePlan(desired: ResolvedDesired, control: Control): { target: string | undefined; waves: readonly Wave[]; kind: "upgrade" | "rollback" } {
  if (control.rollback) return { target: control.rollback.to, waves: [...desired.doc.waves].reverse(), kind: "rollback" };
  return { target: desired.target, waves: desired.doc.waves, kind: "upgrade" };
}

/** The seed of sampled waves: the same for every agent and the CLI reading the same document. */
export function waveSeed(desired: ResolvedDesired): string {
  return `${desired.doc.cluster}/${desired.doc.service}`;
}

/** Failures charged against `version` (distinct nodes): what the budget and quarantine count. */
export function chargedFailures(control: Control, version: string | undefined): Control["failures"] {
  const seen = new Set<string>();
  return control.failures.filter((failure) => failure.version === version && !seen.has(failure.node) && seen.add(failure.node));
}

/** Whether the failures charged against `version` spent the budget of a rollout over `nodeCount` nodes. */
export function budgetSpent(doc: DesiredRollout, control: Control, version: string | undefined, nodeCount: number): boolean {
  const failed = chargedFailures(control, version).length;
  if (failed >= doc.failureBudget.maxFailed) return true;
  const percent = doc.failureBudget.maxFailedPercent;
  return percent !== undefined && nodeCount > 0 && (failed * 100) / nodeCount >= percent;
}

function isOnline(report: NodeReport, now: number, unknownAfter: number): boolean {
  return now - report.seenAt < unknownAfter;
}

/**
 * Whether a wave completed, and when: every member that counts (online, not held, not pinned, not
 * charged with a failure of `target`) runs `target` and no live slot of the wave is taken.
 * `doneAt` is when the last of them reached it.
 */
export function waveCompletion(wave: string, members: readonly NodeReport[], desired: ResolvedDesired, fleet: FleetView, target: string, now: number): { done: boolean; doneAt: number; pending: number } {
  const failed = new Set(chargedFailures(fleet.control, target).map((failure) => failure.node));
  const counting = members.filter(
    (member) => isOnline(member, now, desired.doc.unknownAfter) && !failed.has(member.node) && !(fleet.control.holds[member.node] && fleet.control.holds[member.node]!.until > now) && fleet.control.pins[member.node] === undefined,
  );
  const pending = counting.filter((member) => member.version !== target).length;
  const liveSlots = fleet.slots.filter((slot) => slot.wave === wave && !slot.charged).length;
  const doneAt = Math.max(0, ...counting.map((member) => member.reachedAt ?? 0));
  return { done: pending === 0 && liveSlots === 0, doneAt, pending };
}

/**
 * Whether `node` may start now, the one rule every agent acts on and `status` and `plan --simulate`
 * show. Pure: all it knows comes in the arguments. Checks, in order: target known, already there,
 * suspended, held, quarantined, budget, failed here before, back-off, earlier waves
 * done and soaked, late-arriver policy, window, a free slot. A node holding a slot always resumes.
 */
export function decideUnattended(desired: ResolvedDesired, node: NodeFacts, fleet: FleetView, now: number): UnattendedDecision {
  const { doc } = desired;
  const { control } = fleet;
  const plan = effectivePlan(desired, control);
  const pin = control.pins[node.node];
  const target = pin ?? plan.target;
  if (target === undefined) return { action: "wait", reason: "no-target", detail: `channel ${doc.channel ?? ""} names no version` };

  const reports = mergeSelf(fleet.nodes, node, now);
  // Membership always follows document order (a wave without `select` takes the rest); a rollback only reverses the order of going.
  const assignment = assignWaves(doc.waves, reports, waveSeed(desired));
  // Every node has a wave: the ones no wave selects fall into the last (assignWaves).
  const waveName = assignment.get(node.node)!;
  const held = fleet.slots.find((slot) => slot.node === node.node && !slot.charged);
  if (held) return { action: "act", kind: pin ? "upgrade" : plan.kind, to: held.version, wave: held.wave, slot: held.index, holding: true };

  if (node.version === target) return { action: "wait", reason: pin ? "pinned" : "on-target", wave: waveName };
  if (doc.mode === "suspended" || control.suspended) return { action: "wait", reason: "suspended", detail: control.suspended?.reason ?? "mode: suspended in the document" };
  const hold = control.holds[node.node];
  if (hold && hold.until > now) return { action: "wait", reason: "held", nextEligibleAt: hold.until, detail: hold.reason };
  if (plan.kind === "upgrade" && control.quarantined[target]) return { action: "wait", reason: "quarantined", detail: `${target} failed on ${control.quarantined[target].nodes.join(", ")}` };
  const rolloutNodes = reports.filter((report) => assignment.has(report.node)).length;
  if (budgetSpent(doc, control, target, rolloutNodes)) return { action: "wait", reason: "budget-spent" };
  if (control.failures.some((failure) => failure.node === node.node && failure.version === target)) return { action: "wait", reason: "failed-here" };
  if (node.backoffUntil !== undefined && node.backoffUntil > now) return { action: "wait", reason: "backoff", nextEligibleAt: node.backoffUntil };

  const position = plan.waves.findIndex((wave) => wave.name === waveName);
  const wave = plan.waves[position]!;
  const membersOf = (name: string) => reports.filter((report) => assignment.get(report.node) === name);
  for (const earlier of plan.waves.slice(0, position)) {
    const completion = waveCompletion(earlier.name, membersOf(earlier.name), desired, fleet, plan.target ?? target, now);
    if (!completion.done) return { action: "wait", reason: "previous-wave", wave: waveName, detail: `wave ${earlier.name}: ${completion.pending} node(s) not there yet` };
    if (now < completion.doneAt + earlier.soakAfter) return { action: "wait", reason: "soaking", wave: waveName, nextEligibleAt: completion.doneAt + earlier.soakAfter, detail: `after wave ${earlier.name}` };
  }

  const members = membersOf(waveName);
  const others = members.filter((member) => member.node !== node.node);
  const lateArriver = others.length > 0 && others.every((member) => member.version === target);
  let windowApplies = wave.window !== undefined;
  if (lateArriver) {
    const { policy, mustBy } = doc.lateArrivers;
    const deadline = mustBy === undefined ? undefined : typeof mustBy === "number" ? desired.setAt + mustBy : Date.parse(mustBy);
    if (deadline !== undefined && now >= deadline) windowApplies = false;
    else if (policy === "never") return { action: "wait", reason: "late-arriver-never", wave: waveName };
    else if (policy === "immediately") windowApplies = false;
  }
  if (windowApplies && wave.window) {
    const open = windowPosition(wave.window, now);
    if (!open.open) return { action: "wait", reason: "outside-window", wave: waveName, nextEligibleAt: open.opensAt };
  }

  const capacity = slotCount(wave.maxInFlight, members.length);
  const taken = new Set(fleet.slots.filter((slot) => slot.wave === waveName).map((slot) => slot.index));
  if (taken.size >= capacity) return { action: "wait", reason: "slots-full", wave: waveName, detail: `${taken.size} of ${capacity} taken` };
  let free = 0;
  while (taken.has(free)) free++;
  return { action: "act", kind: pin ? "upgrade" : plan.kind, to: target, wave: waveName, slot: free, holding: false };
}

/** The fleet's reports with the deciding node's own facts in place of (or beside) its last report. */
function mergeSelf(reports: readonly NodeReport[], node: NodeFacts, now: number): NodeReport[] {
  const own = reports.find((report) => report.node === node.node);
  const self: NodeReport = {
    ...(own ?? { state: "idle", reason: "", durationsMs: [], backoffAttempts: 0 }),
    node: node.node,
    labels: { ...node.labels },
    seenAt: now,
    ...(node.version === undefined ? {} : { version: node.version }),
  };
  return [...reports.filter((report) => report.node !== node.node), self];
}
