import type { AgentConfig } from "../config.ts";
import { servicePaths } from "../services/service-paths.ts";
import { describeOwner, isOwned, readLockOwner, type LockOwner } from "../state/owner-lock.ts";
import { ProcessLedger, type LedgerEntry } from "../state/process-ledger.ts";
// A file, not upgrade/index.ts: see agent/services/service-inventory.ts.
import { JournalStore } from "../upgrade/journal-store.ts";

/** An operation whose journal is on disk, as a read-only command sees it. */
export interface OperationOnDisk {
  kind: "upgrade" | "rollback";
  target: string;
  step: string;
  stepStatus: "started" | "done";
  /** running: its owner works on it now; interrupted: no process owns the state dir (`hoist recover` finishes it); failed: waits for `hoist rollback`. */
  state: "running" | "interrupted" | "failed";
  owner?: LockOwner;
  /** Child processes the owner has recorded as running for this service. */
  processes: LedgerEntry[];
}

/** Reads (never changes) the journal of `service` and who owns the state dir. */
export async function readOperation(config: AgentConfig, service: string): Promise<OperationOnDisk | undefined> {
  const serviceConfig = config.services.find((candidate) => candidate.name === service);
  if (!serviceConfig) return undefined;
  const journal = await new JournalStore(servicePaths(config, serviceConfig)).load();
  if (!journal) return undefined;
  const owned = isOwned(config.stateDir);
  const owner = owned ? readLockOwner(config.stateDir) : undefined;
  return {
    kind: journal.kind,
    target: journal.target,
    step: journal.step,
    stepStatus: journal.stepStatus,
    state: journal.halted ? "failed" : owned ? "running" : "interrupted",
    ...(owner ? { owner } : {}),
    processes: owned ? ProcessLedger.read(config.stateDir).filter((entry) => entry.label.startsWith(`${service} `) || entry.label.startsWith(`${service}:`)) : [],
  };
}

/** One line for the human status output. */
export function formatOperation(operation: OperationOnDisk): string {
  const what = `${operation.kind} to ${operation.target} at ${operation.step} (${operation.stepStatus})`;
  switch (operation.state) {
    case "running":
      return `  in progress      ${what}, run by ${describeOwner(operation.owner)}${operation.processes.length > 0 ? `; running: ${operation.processes.map((entry) => entry.label).join(", ")}` : ""}`;
    case "interrupted":
      return `  interrupted      ${what}; the process running it is gone: \`hoist recover\` finishes it (rolls back what was not proven)`;
    case "failed":
      return `  failed           ${what}; waits for an operator: \`hoist rollback\` retries the rollback`;
  }
}
