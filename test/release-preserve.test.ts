import { chmod, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { carryPreservedFiles } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

async function releases(): Promise<{ root: string; from: string; to: string }> {
  const root = await makeTempDir("hoist-preserve-");
  const from = join(root, "releases", "1.0.0");
  const to = join(root, "releases", "2.0.0");
  await mkdir(join(from, "conf", "certs"), { recursive: true });
  await mkdir(join(to, "conf"), { recursive: true });
  await writeFile(join(from, "conf", "app.yml"), "user: edited\n");
  await chmod(join(from, "conf", "app.yml"), 0o600);
  await writeFile(join(from, "conf", "certs", "server.key"), "KEY");
  await chmod(join(from, "conf", "certs", "server.key"), 0o400);
  await chmod(join(from, "conf", "certs"), 0o750);
  await writeFile(join(from, "license.key"), "LICENSE");
  await writeFile(join(to, "conf", "app.yml"), "user: default\n");
  await writeFile(join(to, "conf", "shipped.yml"), "new in 2.0.0\n");
  return { root, from, to };
}

async function failure(work: Promise<unknown>): Promise<HoistError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe("carryPreservedFiles", () => {
  it("copies a config file over the new release's default, keeping its mode and mtime", async () => {
    const { from, to } = await releases();
    const mtime = new Date("2022-02-02T02:02:02Z");
    await utimes(join(from, "conf", "app.yml"), mtime, mtime);
    const copied = await carryPreservedFiles(from, to, ["conf/app.yml"]);
    expect(copied).toEqual(["conf/app.yml"]);
    expect(await readFile(join(to, "conf", "app.yml"), "utf8")).toBe("user: edited\n");
    const info = await stat(join(to, "conf", "app.yml"));
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.mtime.getTime()).toBe(mtime.getTime());
    expect(await readFile(join(from, "conf", "app.yml"), "utf8")).toBe("user: edited\n");
    // no temp files left behind
    expect((await readdir(join(to, "conf"))).sort()).toEqual(["app.yml", "shipped.yml"]);
  });

  it("copies a directory recursively, merging with what the new release ships, keeping modes", async () => {
    const { from, to } = await releases();
    const copied = await carryPreservedFiles(from, to, ["./conf/"]);
    expect(copied).toEqual(["conf"]);
    expect(await readFile(join(to, "conf", "certs", "server.key"), "utf8")).toBe("KEY");
    expect((await stat(join(to, "conf", "certs", "server.key"))).mode & 0o777).toBe(0o400);
    expect((await stat(join(to, "conf", "certs"))).mode & 0o777).toBe(0o750);
    expect(await readFile(join(to, "conf", "shipped.yml"), "utf8")).toBe("new in 2.0.0\n");
    expect(await readFile(join(to, "conf", "app.yml"), "utf8")).toBe("user: edited\n");
  });

  it("skips paths missing in the old release and creates missing parents in the new one", async () => {
    const { from, to } = await releases();
    await mkdir(join(from, "data", "plugins"), { recursive: true });
    await writeFile(join(from, "data", "plugins", "p.js"), "plugin");
    const copied = await carryPreservedFiles(from, to, ["missing.yml", "conf/missing/deeper.yml", "data/plugins/p.js", "license.key"]);
    expect(copied).toEqual(["data/plugins/p.js", "license.key"]);
    expect(await readFile(join(to, "data", "plugins", "p.js"), "utf8")).toBe("plugin");
    expect(await exists(join(to, "missing.yml"))).toBe(false);
  });

  it("copies a symlink as a symlink", async () => {
    const { from, to } = await releases();
    await symlink("/etc/hoist-sample/app.yml", join(from, "conf", "link.yml"));
    await carryPreservedFiles(from, to, ["conf/link.yml"]);
    expect(await readlink(join(to, "conf", "link.yml"))).toBe("/etc/hoist-sample/app.yml");
  });

  it.each([["../outside"], ["conf/../../2.0.0/x"], ["/etc/passwd"], ["."], [""], ["conf\\..\\..\\x"]])("refuses the escaping or empty path %j with INVALID_ARGUMENT and copies nothing", async (bad) => {
    const { from, to } = await releases();
    const err = await failure(carryPreservedFiles(from, to, ["license.key", bad]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(await exists(join(to, "license.key"))).toBe(false);
  });

  it("refuses to write through a symlink in the new release", async () => {
    const { root, from, to } = await releases();
    const outside = join(root, "outside");
    await mkdir(outside);
    await mkdir(join(from, "etc"));
    await writeFile(join(from, "etc", "app.yml"), "x");
    await symlink(outside, join(to, "etc"));
    const err = await failure(carryPreservedFiles(from, to, ["etc/app.yml"]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses to read outside the old release through a symlink", async () => {
    const { root, from, to } = await releases();
    await mkdir(join(root, "secrets"));
    await writeFile(join(root, "secrets", "token"), "s3cret");
    await symlink(join(root, "secrets"), join(from, "secrets"));
    const err = await failure(carryPreservedFiles(from, to, ["secrets/token"]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(await exists(join(to, "secrets"))).toBe(false);
  });
});
