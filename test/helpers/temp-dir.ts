import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";

const made: string[] = [];
const madeForFile: string[] = [];

/** A fresh temp dir for this test, removed after it. */
export async function makeTempDir(prefix = "hoist-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A temp dir made in beforeAll and shared by the file's tests, removed after the last one. */
export async function makeFileTempDir(prefix = "hoist-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeForFile.push(dir);
  return dir;
}

afterEach(async () => {
  const dirs = made.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

afterAll(async () => {
  const dirs = madeForFile.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
