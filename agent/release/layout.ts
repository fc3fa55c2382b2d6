import { join } from "node:path";
import { HoistError } from "../../shared/errors/index.ts";
import { VERSION_PATTERN } from "../../shared/wire/index.ts";

/**
 * Where things live under a service's install root:
 *
 *   releases/VERSION/           one staged release
 *   releases/VERSION.partial/   extraction in progress (never used, removed by cleanPartials)
 *   releases/.hoist/VERSION.json  metadata of a staged release
 *   current -> releases/VERSION  the active release (relative symlink)
 */

/** True when `version` is safe as a single path segment of releases/. */
export function isValidVersion(version: string): boolean {
  return VERSION_PATTERN.test(version) && !version.endsWith(".partial");
}

/** Throws INVALID_ARGUMENT unless `version` is safe as a single path segment. */
export function assertValidVersion(version: string): void {
  if (!isValidVersion(version)) {
    throw new HoistError("INVALID_ARGUMENT", `invalid release version ${JSON.stringify(version)}: use 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit (and not ending in .partial)`, {
      details: { version },
    });
  }
}

export function releasesDir(installRoot: string): string {
  return join(installRoot, "releases");
}

/** The directory of one staged release: `INSTALL_ROOT/releases/VERSION`. Throws INVALID_ARGUMENT for an unsafe version. */
export function releaseDir(installRoot: string, version: string): string {
  assertValidVersion(version);
  return join(installRoot, "releases", version);
}

export function partialDir(installRoot: string, version: string): string {
  assertValidVersion(version);
  return join(installRoot, "releases", `${version}.partial`);
}

export function metaDir(installRoot: string): string {
  return join(installRoot, "releases", ".hoist");
}

export function metaPath(installRoot: string, version: string): string {
  assertValidVersion(version);
  return join(installRoot, "releases", ".hoist", `${version}.json`);
}

export function currentLink(installRoot: string): string {
  return join(installRoot, "current");
}

/** The relative target `current` gets for a version. */
export function currentTarget(version: string): string {
  return `releases/${version}`;
}

/** Removes credentials and the query (often a signed token) from a URL before it is shown or stored. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "file:") return url;
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    parsed.hash = "";
    return parsed.toString();
  } catch {
    return "(unparseable url)";
  }
}
