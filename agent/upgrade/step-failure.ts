import { HoistError } from "../../shared/errors/index.ts";
import type { JournalRecord } from "./journal-record.ts";

/**
 * A step failed, and the journal must remember something of how it failed (e.g. a failed drain left
 * the service down, so the rollback must run as after a stop). The runner saves `patch` with the
 * failure before it asks the transition table what comes next.
 */
export class StepFailure extends HoistError {
  constructor(
    cause: HoistError,
    readonly patch: Partial<JournalRecord>,
  ) {
    super(cause.code, cause.message, { cause, details: cause.details });
  }
}
