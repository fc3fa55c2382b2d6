export { formatBytes, formatMs } from "./units.ts";
