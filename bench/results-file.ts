import { mkdir } from "node:fs/promises";
import { join } from "node:path";

/** Where bench runs write their figures: git-ignored, apart from the recorded results. */
export const RUNS_DIR = join(import.meta.dirname, "results", "runs");

/**
 * The file a bench run writes its figures to: bench/results/runs/NAME (git-ignored, made when
 * missing), so that `npm run bench*` never overwrites the recorded results in bench/results/
 * that bench/README.md cites. Copy a run there by hand to record it.
 */
export async function benchResultFile(name: string): Promise<string> {
  await mkdir(RUNS_DIR, { recursive: true });
  return join(RUNS_DIR, name);
}
