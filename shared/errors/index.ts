export { ERROR_CODES, type ErrorCode } from "./codes.ts";
export { HoistError, toHoistError, throwIfAborted, type HoistErrorOptions } from "./hoist-error.ts";
