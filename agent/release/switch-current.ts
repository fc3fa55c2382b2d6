import { randomBytes } from "node:crypto";
import { lstat, readlink, rename, symlink, unlink } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";
import { HoistError, toHoistError } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import { currentLink, currentTarget, isValidVersion, releaseDir, releasesDir } from "./layout.ts";

/**
 * Points `INSTALL_ROOT/current` at `releases/VERSION`, atomically: a new symlink
 * `current.tmp-RANDOM` is renamed over `current` (readers see the old target or the new one,
 * never none), then the install root is fsynced so the switch survives a power cut.
 *
 * @throws HoistError INVALID_ARGUMENT for an unsafe version, NOT_FOUND when the release is not
 *   staged, WRONG_STATE when `current` is a real directory instead of a symlink.
 */
export async function switchCurrent(installRoot: string, version: string): Promise<void> {
  const dir = releaseDir(installRoot, version);
  let info;
  try {
    info = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw toHoistError(err);
  }
  if (info === undefined || !info.isDirectory()) {
    throw new HoistError("NOT_FOUND", `release ${version} is not staged in ${releasesDir(installRoot)}; stage it before switching`, {
      details: { version, installRoot },
    });
  }
  const link = currentLink(installRoot);
  const existing = await lstat(link).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw toHoistError(err);
  });
  if (existing !== undefined && !existing.isSymbolicLink()) {
    throw new HoistError("WRONG_STATE", `${link} exists and is not a symlink; move it away so Hoist can manage it`, { details: { path: link } });
  }
  const temp = join(installRoot, `current.tmp-${randomBytes(6).toString("hex")}`);
  await symlink(currentTarget(version), temp);
  try {
    await rename(temp, link);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw toHoistError(err);
  }
  await fsyncDir(installRoot);
}

/**
 * The version `current` points at, or undefined when there is no `current`.
 * Accepts only targets naming a release of this install root (`releases/VERSION`, relative, or the
 * same as an absolute path).
 *
 * @throws HoistError WRONG_STATE when `current` is not a symlink or points anywhere else.
 */
export async function readCurrentVersion(installRoot: string): Promise<string | undefined> {
  const link = currentLink(installRoot);
  let target: string;
  try {
    target = await readlink(link);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "EINVAL") {
      throw new HoistError("WRONG_STATE", `${link} is not a symlink; move it away so Hoist can manage it`, { details: { path: link } });
    }
    throw toHoistError(err);
  }
  const relative = isAbsolute(target) ? absoluteToRelative(installRoot, target) : normalize(target).replace(/\/+$/, "");
  const match = relative === undefined ? null : /^releases\/([^/]+)$/.exec(relative);
  const version = match?.[1];
  if (version === undefined || !isValidVersion(version)) {
    throw new HoistError("WRONG_STATE", `${link} points at ${JSON.stringify(target)}, which is not a release of ${installRoot}; fix or remove the symlink`, {
      details: { path: link, target },
    });
  }
  return version;
}

function absoluteToRelative(installRoot: string, target: string): string | undefined {
  const prefix = `${releasesDir(normalize(installRoot)).replace(/\/+$/, "")}/`;
  const clean = normalize(target).replace(/\/+$/, "");
  return clean.startsWith(prefix) ? `releases/${clean.slice(prefix.length)}` : undefined;
}
