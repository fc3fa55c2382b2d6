import { HoistError } from "../errors/index.ts";
import type { ReleaseEntry, ServiceCatalog } from "./schema.ts";

/** One hop of an upgrade path: from -> to, with the target release's catalog entry. */
export interface Hop {
  from: string;
  to: string;
  release: ReleaseEntry;
  downgrade: boolean;
  /** Releases passed over without being fetched: their migrations run from `to`'s package (includesEarlierMigrations). */
  via?: string[];
}

export interface PlanPathOptions {
  allowDowngrade?: boolean;
}

/** Finds a release entry by version, or throws NOT_FOUND naming the known versions. */
export function findRelease(catalog: ServiceCatalog, version: string): ReleaseEntry {
  const entry = catalog.releases.find((release) => release.version === version);
  if (!entry) {
    const known = catalog.releases.map((release) => release.version).join(", ");
    throw new HoistError("NOT_FOUND", `version ${version} is not in the catalog (known: ${known})`, {
      details: { version, known },
    });
  }
  return entry;
}

/**
 * Plans the hops from `from` to `to` following the catalog's `upgradeFrom` edges (N -> N+1 as the
 * vendors support them), shortest path first, ties broken by catalog order. Versions are compared
 * only by their position in the catalog, so calendar and four-part versions work as well as semver.
 * `from` may be undefined for a fresh install (one hop straight to `to`).
 *
 * Throws NOT_FOUND (unknown version), DOWNGRADE_REFUSED (target older, not allowed), NO_UPGRADE_PATH.
 */
export function planUpgradePath(catalog: ServiceCatalog, from: string | undefined, to: string, options: PlanPathOptions = {}): Hop[] {
  const target = findRelease(catalog, to);
  if (from === undefined) return [{ from: "", to, release: target, downgrade: false }];
  if (from === to) return [];
  const order = new Map(catalog.releases.map((release, index) => [release.version, index]));
  const fromIndex = order.get(from);
  if (fromIndex === undefined) {
    throw new HoistError("NOT_FOUND", `the running version ${from} is not in the catalog; add it so the path can be planned`, {
      details: { version: from },
    });
  }
  if (order.get(to)! < fromIndex) {
    if (!options.allowDowngrade) {
      throw new HoistError("DOWNGRADE_REFUSED", `${to} is older than the running ${from}; pass --allow-downgrade to downgrade on purpose`, {
        details: { from, to },
      });
    }
    return [{ from, to, release: target, downgrade: true }];
  }
  const previous = new Map<string, string>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (current === to) break;
    for (const release of catalog.releases) {
      if (seen.has(release.version) || !release.upgradeFrom.includes(current)) continue;
      if (order.get(release.version)! < order.get(current)!) continue;
      seen.add(release.version);
      previous.set(release.version, current);
      queue.push(release.version);
    }
  }
  if (!previous.has(to)) {
    throw new HoistError("NO_UPGRADE_PATH", `the catalog has no upgrade path from ${from} to ${to}`, { details: { from, to } });
  }
  const versions = [to];
  while (versions[0] !== from) versions.unshift(previous.get(versions[0]!)!);
  const hops = versions.slice(1).map((version, index) => ({
    from: versions[index]!,
    to: version,
    release: findRelease(catalog, version),
    downgrade: false,
  }));
  return target.includesEarlierMigrations && hops.length > 1 ? [mergeIntoTarget(hops)] : hops;
}

/**
 * One hop from the first `from` to the target whose package ships every earlier hop's scripts: the
 * target's release with the migrations of every hop in order (an intermediate release's migration
 * renamed `VERSION/NAME`, so names stay unique), rolling only if every hop is, minor only if every
 * hop is, needing confirmation if any does, with every hop's notes. The releases in between are never fetched.
 */
function mergeIntoTarget(hops: readonly Hop[]): Hop {
  const last = hops[hops.length - 1]!;
  const migrations = hops.flatMap((hop) => hop.release.migrations.map((migration) => (hop === last ? migration : { ...migration, name: `${hop.to}/${migration.name}` })));
  const fullStop = hops.find((hop) => !hop.release.rolling);
  const release: ReleaseEntry = {
    ...last.release,
    migrations,
    rolling: fullStop === undefined,
    minor: hops.every((hop) => hop.release.minor),
    // The notes and confirmation of a release passed over still apply.
    requireConfirm: hops.some((hop) => hop.release.requireConfirm),
    ...(hops.some((hop) => hop !== last && hop.release.notes !== undefined) ? { notes: hops.flatMap((hop) => (hop.release.notes === undefined ? [] : [`${hop.to}: ${hop.release.notes}`])).join("\n") } : {}),
    ...(fullStop?.release.fullStopReason === undefined ? {} : { fullStopReason: fullStop.release.fullStopReason }),
  };
  return { from: hops[0]!.from, to: last.to, release, downgrade: false, via: hops.slice(0, -1).map((hop) => hop.to) };
}
