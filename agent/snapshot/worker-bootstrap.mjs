// Entry of the snapshot worker thread. A worker does not inherit the loader hooks of the thread
// that started it when tsx was registered through its API (bin/hoist.mjs, vitest), so it registers
// tsx itself before loading the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
