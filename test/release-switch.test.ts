import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCurrentVersion, releaseDir, switchCurrent } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

async function installWith(versions: string[]): Promise<string> {
  const root = await makeTempDir("hoist-switch-");
  for (const version of versions) {
    await mkdir(join(root, "releases", version), { recursive: true });
    await writeFile(join(root, "releases", version, "VERSION"), version);
  }
  return root;
}

async function failure(work: Promise<unknown>): Promise<HoistError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

describe("switchCurrent", () => {
  it("creates current as a relative symlink when there is none", async () => {
    const root = await installWith(["1.0.0"]);
    expect(await readCurrentVersion(root)).toBeUndefined();
    await switchCurrent(root, "1.0.0");
    expect(await readlink(join(root, "current"))).toBe("releases/1.0.0");
    expect(await readFile(join(root, "current", "VERSION"), "utf8")).toBe("1.0.0");
    expect(await readCurrentVersion(root)).toBe("1.0.0");
  });

  it("replaces current atomically: new target, no temp symlink left, old release intact", async () => {
    const root = await installWith(["1.0.0", "2.0.0"]);
    await switchCurrent(root, "1.0.0");
    await switchCurrent(root, "2.0.0");

    expect((await lstat(join(root, "current"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(root, "current"))).toBe("releases/2.0.0");
    expect(await readFile(join(root, "current", "VERSION"), "utf8")).toBe("2.0.0");
    expect((await readdir(root)).sort()).toEqual(["current", "releases"]);
    expect(await readFile(join(releaseDir(root, "1.0.0"), "VERSION"), "utf8")).toBe("1.0.0");
    expect(await readCurrentVersion(root)).toBe("2.0.0");

    // and back, as a rollback does
    await switchCurrent(root, "1.0.0");
    expect(await readCurrentVersion(root)).toBe("1.0.0");
  });

  it("refuses with NOT_FOUND when the release is not staged, leaving current alone", async () => {
    const root = await installWith(["1.0.0"]);
    await switchCurrent(root, "1.0.0");
    const err = await failure(switchCurrent(root, "9.9.9"));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toContain("9.9.9");
    expect(await readCurrentVersion(root)).toBe("1.0.0");
  });

  it("refuses with NOT_FOUND when releases/VERSION is a symlink rather than a staged dir", async () => {
    const root = await installWith(["1.0.0"]);
    await symlink("1.0.0", join(root, "releases", "1.0.1"));
    expect((await failure(switchCurrent(root, "1.0.1"))).code).toBe("NOT_FOUND");
  });

  it("refuses unsafe versions with INVALID_ARGUMENT", async () => {
    const root = await installWith(["1.0.0"]);
    for (const version of ["../1.0.0", "releases/1.0.0", ".", ""]) {
      expect((await failure(switchCurrent(root, version))).code).toBe("INVALID_ARGUMENT");
    }
  });

  it("refuses with WRONG_STATE when current is a real directory", async () => {
    const root = await installWith(["1.0.0"]);
    await mkdir(join(root, "current"));
    await writeFile(join(root, "current", "data"), "keep me");
    expect((await failure(switchCurrent(root, "1.0.0"))).code).toBe("WRONG_STATE");
    expect(await readFile(join(root, "current", "data"), "utf8")).toBe("keep me");
    expect((await readdir(root)).sort()).toEqual(["current", "releases"]);
  });
});

describe("readCurrentVersion", () => {
  it("accepts an absolute target inside the install root's releases", async () => {
    const root = await installWith(["1.0.0"]);
    await symlink(join(root, "releases", "1.0.0"), join(root, "current"));
    expect(await readCurrentVersion(root)).toBe("1.0.0");
  });

  it.each([
    ["an absolute path elsewhere", "/etc"],
    ["a relative path leaving the root", "../elsewhere/releases/1.0.0"],
    ["the releases dir itself", "releases"],
    ["a nested path", "releases/1.0.0/bin"],
    ["a partial release", "releases/1.0.0.partial"],
    ["the metadata dir", "releases/.hoist"],
  ])("refuses a current pointing at %s", async (_name, target) => {
    const root = await installWith(["1.0.0"]);
    await symlink(target, join(root, "current"));
    const err = await failure(readCurrentVersion(root));
    expect(err.code).toBe("WRONG_STATE");
    expect(err.message).toContain(target);
  });

  it("refuses a current that is not a symlink", async () => {
    const root = await installWith(["1.0.0"]);
    await writeFile(join(root, "current"), "not a link");
    expect((await failure(readCurrentVersion(root))).code).toBe("WRONG_STATE");
  });
});
