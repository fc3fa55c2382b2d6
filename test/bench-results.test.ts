import { spawnSync } from "node:child_process";
import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import { benchResultFile } from "../bench/results-file.ts";

const root = new URL("..", import.meta.url).pathname;
const git = (...args: string[]) => spawnSync("git", args, { cwd: root, encoding: "utf8" });

describe("bench runs never overwrite a tracked file", () => {
  it.each(["latest.json", "database-latest.json", "fleet-latest.json", "cli-start-latest.json", "dashboard-latest.json", "snapshot-latest.json"])("%s is written where git ignores it", async (name) => {
    const file = relative(root, await benchResultFile(name));
    expect(git("check-ignore", "-q", file).status).toBe(0);
    expect(git("ls-files", "--error-unmatch", file).status).not.toBe(0);
  });
});
