import type { Command } from "commander";

export interface StrategyFlags {
  batch?: string;
  canary?: string;
  canaryMode?: string;
  minHealthyMs?: string;
  healthyDeadlineMs?: string;
  progressDeadlineMs?: string;
  maxFailures?: string;
  autoRevert?: boolean;
  order?: string;
}

/** Adds the strategy knobs, named as users know them (Ansible's serial, Nomad's update block). */
export function withStrategyOptions(command: Command): Command {
  return command
    .option("--batch <sizes>", 'batch size: a number, a percentage, or a list like "1,25%,100%" (the last repeats)', "1")
    .option("--canary <n>", "nodes upgraded first as canaries", "0")
    .option("--canary-mode <mode>", "after the canaries: pause (wait for `hoist rollout promote`) or auto", "pause")
    .option("--min-healthy-ms <ms>", "a node must stay healthy this long to count as upgraded")
    .option("--healthy-deadline-ms <ms>", "time a node has to become healthy")
    .option("--progress-deadline-ms <ms>", "the rollout fails when no node finishes for this long")
    .option("--max-failures <n>", "node failures absorbed by rolling back and retrying", "0")
    .option("--auto-revert", "on failure, revert the hop's upgraded nodes batch by batch instead of halting")
    .option("--order <order>", 'node order: name, given, or a list "n3,n1,n2"', "name");
}
