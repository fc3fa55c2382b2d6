export * from "./schema.ts";
export * from "./records.ts";
export * from "./keys.ts";
export { parseDuration, durationSchema, formatDuration } from "./duration.ts";
export { windowPosition, openingsBetween, type WindowPosition } from "./window.ts";
export { assignWaves, slotCount, type LabelledNode } from "./waves.ts";
export { decideUnattended, effectivePlan, chargedFailures, budgetSpent, waveCompletion, waveSeed, WAIT_REASONS, type WaitReason, type ResolvedDesired, type NodeFacts, type FleetView, type UnattendedDecision } from "./decide.ts";
export { keyIdOf, loadKey, signText, verifyText, type TextSignature } from "./signature.ts";
export { UnattendedStore, openUnattendedBucket, resolveDesired, type RolloutSnapshot } from "./store.ts";
