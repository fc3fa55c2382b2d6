import { execFile } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { fromTimestamp, fromWireOutcome, toTimestamp, toWireOutcome } from "../shared/proto/index.ts";
import { sampleInventory } from "./helpers/fake-node-agent.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

describe("conversions", () => {
  it.each(["2024-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2024-06-01T12:00:00.123Z"])("timestamp %s round-trips", (iso) => {
    expect(fromTimestamp(toTimestamp(iso) as { seconds: number; nanos: number })).toBe(iso);
  });

  it("a timestamp that is not a date is INTERNAL (an agent bug), not a silent epoch", () => {
    expect(() => toTimestamp("yesterday")).toThrow(expect.objectContaining({ code: "INTERNAL" }));
  });

  it.each(["committed", "rolled-back", "aborted", "failed", "noop"] as const)("outcome result %s round-trips", (result) => {
    const outcome = { ...sampleInventory().services[0]!.lastUpgrade!, result };
    const encoded = toWireOutcome(outcome);
    expect(fromWireOutcome({ hops: [], ...encoded } as Parameters<typeof fromWireOutcome>[0])).toStrictEqual(outcome);
  });

  it("an unknown result from a newer agent reads as failed, never as success", () => {
    const outcome = toWireOutcome(sampleInventory().services[0]!.lastUpgrade!);
    expect(fromWireOutcome({ ...outcome, result: 99 } as unknown as Parameters<typeof fromWireOutcome>[0]).result).toBe("failed");
  });
});

describe("generated code", () => {
  it("shared/proto/generated matches what scripts/gen-proto.sh makes from proto/ (run `npm run gen:proto`)", async () => {
    const root = join(import.meta.dirname, "..");
    const out = join(await makeTempDir(), "generated");
    await promisify(execFile)("bash", [join(root, "scripts", "gen-proto.sh"), out], { cwd: root });
    const committed = join(root, "shared", "proto", "generated");
    const list = async (dir: string) =>
      (await readdir(dir, { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) => join(entry.parentPath, entry.name).slice(dir.length))
        .sort();
    const files = await list(out);
    expect(await list(committed)).toEqual(files);
    for (const file of files) {
      expect(await readFile(join(committed, file), "utf8"), file).toBe(await readFile(join(out, file), "utf8"));
    }
  }, 30_000);
});
