import { readFile } from "node:fs/promises";

/** Reads a JSON file; returns undefined when the file does not exist. */
export async function readJsonIfExists<T = unknown>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
