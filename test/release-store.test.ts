import { lstat, mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cleanPartials, listReleases, pruneReleases, readReleaseMeta, stageRelease, switchCurrent } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { writeJsonAtomic } from "../shared/fs/index.ts";
import { makeTarball } from "./helpers/tar-writer.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const limits = { maxArtifactBytes: 1024 * 1024, maxExtractedBytes: 1024 * 1024, maxEntries: 100 };

/** Stages the versions for real, then rewrites stagedAt so the order is known (oldest first). */
async function installWith(versions: string[]): Promise<string> {
  const root = await makeTempDir("hoist-store-");
  const install = join(root, "install");
  for (const [index, version] of versions.entries()) {
    const tarball = await makeTarball(join(root, `app-${version}.tgz`), { VERSION: version });
    await stageRelease({ installRoot: install, version, artifact: { url: tarball.path, sha256: tarball.sha256 }, cacheDir: join(root, "cache"), limits });
    const meta = await readReleaseMeta(install, version);
    await writeJsonAtomic(join(install, "releases", ".hoist", `${version}.json`), {
      ...meta,
      stagedAt: new Date(Date.UTC(2024, 0, 1 + index)).toISOString(),
    });
  }
  return install;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe("listReleases", () => {
  it("lists staged releases oldest first with metadata and the active flag, ignoring partials and .hoist", async () => {
    // staged out of version order on purpose: the order is stagedAt's
    const install = await installWith(["1.0.0", "1.1.0", "0.9.0"]);
    await switchCurrent(install, "1.1.0");
    await mkdir(join(install, "releases", "2.0.0.partial"));

    const releases = await listReleases(install);
    expect(releases.map((r) => r.version)).toEqual(["1.0.0", "1.1.0", "0.9.0"]);
    expect(releases.map((r) => r.active)).toEqual([false, true, false]);
    expect(releases[0]).toMatchObject({
      dir: join(install, "releases", "1.0.0"),
      stagedAt: "2024-01-01T00:00:00.000Z",
    });
    expect(releases[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(releases[0]?.size).toBeGreaterThan(0);
  });

  it("returns an empty list for an install root with nothing staged", async () => {
    expect(await listReleases(join(await makeTempDir(), "install"))).toEqual([]);
  });

  it("lists a release dir without metadata too", async () => {
    const install = await installWith(["1.0.0"]);
    await mkdir(join(install, "releases", "0.1.0-manual"));
    const releases = await listReleases(install);
    expect(releases.find((r) => r.version === "0.1.0-manual")).toMatchObject({ sha256: undefined, stagedAt: undefined, active: false });
  });
});

describe("pruneReleases", () => {
  it("removes the oldest releases beyond keep, with their metadata", async () => {
    const install = await installWith(["1.0.0", "1.1.0", "1.2.0", "2.0.0"]);
    await switchCurrent(install, "2.0.0");
    const removed = await pruneReleases(install, 2, []);
    expect(removed).toEqual(["1.0.0", "1.1.0"]);
    expect((await listReleases(install)).map((r) => r.version)).toEqual(["1.2.0", "2.0.0"]);
    expect(await readReleaseMeta(install, "1.0.0")).toBeUndefined();
    expect((await readdir(join(install, "releases"))).sort()).toEqual([".hoist", "1.2.0", "2.0.0"]);
  });

  it("never removes the active release nor a protected one, even if that keeps more than keep", async () => {
    const install = await installWith(["1.0.0", "1.1.0", "1.2.0", "2.0.0"]);
    await switchCurrent(install, "1.0.0");
    const removed = await pruneReleases(install, 1, ["1.1.0"]);
    expect(removed).toEqual(["1.2.0", "2.0.0"]);
    const left = await listReleases(install);
    expect(left.map((r) => [r.version, r.active])).toEqual([
      ["1.0.0", true],
      ["1.1.0", false],
    ]);
    expect(await exists(join(install, "releases", "1.0.0", "VERSION"))).toBe(true);
  });

  it("removes nothing when at most keep releases exist", async () => {
    const install = await installWith(["1.0.0", "2.0.0"]);
    expect(await pruneReleases(install, 3, [])).toEqual([]);
    expect((await listReleases(install)).length).toBe(2);
  });

  it("removes nothing when current is broken (WRONG_STATE)", async () => {
    const install = await installWith(["1.0.0", "2.0.0"]);
    await symlink("/elsewhere", join(install, "current"));
    const err = await pruneReleases(install, 0, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe("WRONG_STATE");
    expect((await readdir(join(install, "releases"))).sort()).toEqual([".hoist", "1.0.0", "2.0.0"]);
  });
});

describe("cleanPartials", () => {
  it("removes leftover partial dirs, temp symlinks and orphan metadata, and nothing else", async () => {
    const install = await installWith(["1.0.0"]);
    await switchCurrent(install, "1.0.0");
    const releases = join(install, "releases");
    await mkdir(join(releases, "2.0.0.partial", "bin"), { recursive: true });
    await writeFile(join(releases, "2.0.0.partial", "bin", "app"), "half");
    await mkdir(join(releases, ".prune-0.9.0-abcd.partial"));
    await symlink("releases/1.0.0", join(install, "current.tmp-123456"));
    await writeFile(join(releases, ".hoist", "3.0.0.json"), "{}");
    await writeFile(join(releases, ".hoist", ".1.0.0.json.abc.tmp"), "{");

    const removed = await cleanPartials(install);
    expect(removed.sort()).toEqual(
      [join(releases, "2.0.0.partial"), join(releases, ".prune-0.9.0-abcd.partial"), join(install, "current.tmp-123456"), join(releases, ".hoist", "3.0.0.json"), join(releases, ".hoist", ".1.0.0.json.abc.tmp")].sort(),
    );
    expect((await readdir(releases)).sort()).toEqual([".hoist", "1.0.0"]);
    expect(await readdir(join(releases, ".hoist"))).toEqual(["1.0.0.json"]);
    expect((await readdir(install)).sort()).toEqual(["current", "releases"]);
    expect((await listReleases(install)).map((r) => [r.version, r.active])).toEqual([["1.0.0", true]]);
  });

  it("is a no-op on a clean or missing install root", async () => {
    const install = await installWith(["1.0.0"]);
    expect(await cleanPartials(install)).toEqual([]);
    expect(await cleanPartials(join(install, "nothing-here"))).toEqual([]);
  });
});
