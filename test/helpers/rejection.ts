import { expect } from "vitest";
import { HoistError } from "../../shared/errors/index.ts";

/** Awaits a promise that must reject with a HoistError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<HoistError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}
