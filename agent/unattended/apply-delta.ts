import { slotKey, type NotifyDelta, type RolloutSnapshot } from "../../shared/unattended/index.ts";

/**
 * Applies what a notify says changed to the rollout an agent read last, in place: a node's new
 * report replaces an older one (by seenAt); a taken slot is added, replacing what held that index
 * at an older revision only; a freed one is removed unless that index is held at a newer revision
 * than the one freed (notifies from different publishers can arrive out of order). Returns false
 * when the notify carries no delta (desired, control or channel changed), which means: read the
 * rollout again. Pure apart from changing `snapshot`.
 */
export function applyNotifyDelta(snapshot: RolloutSnapshot, cluster: string, service: string, delta: NotifyDelta): boolean {
  const { report, taken, freed } = delta;
  if (!report && !taken && !freed) return false;
  const known = report && snapshot.nodes.find((entry) => entry.node === report.node);
  if (report && (!known || known.seenAt <= report.seenAt)) snapshot.nodes = [...snapshot.nodes.filter((entry) => entry.node !== report.node), report];
  if (taken) {
    const { index, revision, ...value } = taken;
    const held = snapshot.slots.find((slot) => slot.wave === taken.wave && slot.index === index);
    if (!held || held.revision < revision) snapshot.slots = [...snapshot.slots.filter((slot) => slot !== held), { ...value, index, revision, key: slotKey(cluster, service, taken.wave, index) }];
  }
  if (freed) {
    const freedHolder = (slot: RolloutSnapshot["slots"][number]) => freed.revision === undefined || slot.revision <= freed.revision;
    snapshot.slots = snapshot.slots.filter((slot) => !(slot.wave === freed.wave && slot.index === freed.index && freedHolder(slot)));
  }
  return true;
}
