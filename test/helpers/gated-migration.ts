import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeCatalogVariant } from "./cluster.ts";

/** Files a gated migration of a test catalog uses to show where it is and to be let go. */
export interface MigrationGate {
  catalog: string;
  dir: string;
  /** Resolves true once the gated migration has begun at least once. */
  started(): Promise<boolean>;
  /** Lets every run of the gated migration go on (it then runs the real script). */
  open(): Promise<void>;
}

/**
 * A copy of the sample catalog in which kv 1.1.0's migration `which` (the node-scoped
 * `store-schema-2` or the cluster-once `shared-db-1.1.0`) first touches `started`, then waits until
 * `open()` (or, with `onlyFirstRun`, runs at once on every run after the first) and only then runs
 * the real script. It gives up when its agent dies (its parent pid is gone), so a SIGKILLed agent
 * leaves no sleeping script behind.
 */
export async function gatedMigrationCatalog(root: string, which: "store-schema-2" | "shared-db-1.1.0", options: { onlyFirstRun?: boolean } = {}): Promise<MigrationGate> {
  const dir = join(root, "gate");
  await mkdir(dir, { recursive: true });
  const started = join(dir, "started");
  const go = join(dir, "go");
  const script = which === "store-schema-2" ? "upgrade/1.0.0-to-1.1.0.mjs" : "upgrade/shared-db-1.1.0.mjs";
  const firstRunOnly = options.onlyFirstRun ? `[ -e '${started}' ] && exec ./${script}; ` : "";
  const shell = `${firstRunOnly}touch '${started}'; while [ ! -e '${go}' ]; do kill -0 $PPID 2>/dev/null || exit 1; sleep 0.1; done; exec ./${script}`;
  const catalog = await writeCatalogVariant(join(root, "catalog-gated.yaml"), (edited) => {
    const release = edited.services.kv.releases.find((entry) => entry.version === "1.1.0") as { migrations: { name: string; run: string[] }[] };
    const migration = release.migrations.find((entry) => entry.name === which)!;
    migration.run = ["/bin/sh", "-c", shell];
  });
  return {
    catalog,
    dir,
    started: () =>
      access(started).then(
        () => true,
        () => false,
      ),
    open: () => writeFile(go, ""),
  };
}
