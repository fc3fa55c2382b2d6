import * as z from "zod";
import { artifactSchema, migrationSchema, versionSchema } from "../wire/index.ts";

export { migrationSchema, type Migration } from "../wire/index.ts";

/**
 * A release's artifact as the catalog file writes it: the wire's artifact (shared/wire), except that
 * `url` may also be a path relative to the catalog file (loadCatalog resolves it), and no unknown keys.
 */
export const catalogArtifactSchema = artifactSchema.extend({ url: z.string().min(1) }).strict();

export const releaseEntrySchema = z
  .object({
    /** Named as the product names it: 1.5.1, 23.01, 5.2.7.1 ... */
    version: versionSchema,
    artifact: catalogArtifactSchema,
    /** Versions that may upgrade straight to this one (N -> N+1 edges). */
    upgradeFrom: z.array(z.string()).default([]),
    /** Whether the old and new version may run side by side during this hop. */
    rolling: z.boolean().default(true),
    /** Why the hop needs a full stop, shown by the planner. */
    fullStopReason: z.string().optional(),
    /**
     * full (default): stop, switch, start. patch (ejabberd's module update): only the files that
     * differ from the running release are replaced in place, then the service's `reload` hook runs
     * instead of a stop and start; on failure the old files go back. Used when the hop is the only
     * one of the upgrade and the service has a reload hook; otherwise the hop runs as a full one.
     */
    kind: z.enum(["full", "patch"]).default("full"),
    /** A minor hop: no data migration, only its own script. */
    minor: z.boolean().default(false),
    migrations: z.array(migrationSchema).default([]),
    /** What an operator must know before this hop (a CHANGELOG's compatibility section), shown by `hoist plan`. */
    notes: z.string().min(1).optional(),
    /** Where the full release notes are. */
    notesUrl: z.url().optional(),
    /**
     * This release's package ships the migration scripts of every release before it (Seafile's
     * upgrade/ dir: "You don't need to download server package 1.2.0"): a multi-hop upgrade ending
     * here fetches only this release and runs every hop's migrations from its dir, in order.
     */
    includesEarlierMigrations: z.boolean().default(false),
    /** A rollout through this release starts only with `--confirm VERSION` (breaking changes the operator must have read). */
    requireConfirm: z.boolean().default(false),
  })
  .strict();

/**
 * Checks the releases against each other: every version once (a duplicate would make the planner
 * pick one of them and report a misleading NO_UPGRADE_PATH), and every `upgradeFrom` naming an
 * older release (catalog order), so the upgrade graph has no cycle. Issues carry the path of the
 * offending entry, as schema errors do.
 */
function checkAcrossReleases(service: string, releases: readonly { version: string; upgradeFrom: readonly string[] }[], ctx: z.RefinementCtx): void {
  const at = (...rest: (string | number)[]) => ["services", service, "releases", ...rest];
  const firstAt = new Map<string, number>();
  releases.forEach((release, index) => {
    const earlier = firstAt.get(release.version);
    if (earlier !== undefined) {
      ctx.addIssue({ code: "custom", path: at(index, "version"), message: `${release.version} is listed twice (also at ${at(earlier).join(".")}); each version must appear once` });
    } else {
      firstAt.set(release.version, index);
    }
  });
  releases.forEach((release, index) => {
    release.upgradeFrom.forEach((from, fromIndex) => {
      const position = firstAt.get(from);
      if (position !== undefined && position >= index) {
        ctx.addIssue({
          code: "custom",
          path: at(index, "upgradeFrom", fromIndex),
          message: `${from} is not older than ${release.version} (releases are listed oldest first); an upgradeFrom must name an older release, or the upgrade path has a cycle`,
        });
      }
    });
  });
}

export const serviceCatalogSchema = z
  .object({
    /** Releases in release order, oldest first: this order decides upgrade vs downgrade. */
    releases: z.array(releaseEntrySchema).min(1),
  })
  .strict();

export const catalogSchema = z
  .object({
    services: z.record(z.string(), serviceCatalogSchema),
  })
  .strict()
  .superRefine((catalog, ctx) => {
    for (const [service, entry] of Object.entries(catalog.services)) checkAcrossReleases(service, entry.releases, ctx);
  });

export type ReleaseEntry = z.output<typeof releaseEntrySchema>;
export type ServiceCatalog = z.output<typeof serviceCatalogSchema>;
export type Catalog = z.output<typeof catalogSchema>;
