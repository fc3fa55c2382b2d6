export { checkProbe, probeLabel, type ProbeResult, type ProbeContext } from "./probes.ts";
export { createLogProbeState, createLogProbeStates, checkLogProbe, LogProbeState, type LogCheck } from "./log-probe.ts";
export { waitHealthy, type WaitHealthyOptions, type HealthyOutcome } from "./verify.ts";
export { HealthMonitor, type HealthMonitorOptions, type HealthMonitorEvents, type StatusChange } from "./monitor.ts";
export { alreadyServing } from "./already-serving.ts";
