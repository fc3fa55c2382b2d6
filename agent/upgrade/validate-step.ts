import { cp, mkdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { runHook } from "../exec/index.ts";
import { waitHealthy } from "../health/index.ts";
import { releaseDir } from "../release/index.ts";
import { hookEnv } from "../services/hook-env.ts";
import type { StepContext, StepFunction } from "./step-context.ts";

/**
 * Starts the new release on scratch data before production is touched (Alfresco's "upgrade a copy
 * of the repository" first): the data dirs copied (`data: clone`, and the hops' node-scope
 * migrations run on the copy; cluster-once ones touch shared state and are left to the real
 * upgrade) or empty, the service's env with `validate.env` on top (another port), the start hook of
 * the new release, then `validate.probes` must hold for `minHealthyMs`. The scratch instance is
 * stopped with the stop hook (bounded by its own timeout, also when the upgrade is cancelled) and its
 * data removed whatever happened.
 * @throws HoistError HOOK_FAILED (start, a migration), HEALTH_CHECK_FAILED: the upgrade is aborted, production untouched.
 */
export const validateRelease: StepFunction = async (ctx: StepContext) => {
  const spec = ctx.service.validate;
  if (spec === undefined || ctx.record.previousVersion === undefined) return;
  const scratchRoot = join(ctx.paths.root, "validate");
  await rm(scratchRoot, { recursive: true, force: true });
  const dataDirs = ctx.service.dataDirs.map((dir, index) => join(scratchRoot, `${index}-${basename(dir)}`));
  for (const [index, dir] of dataDirs.entries()) {
    if (spec.data === "clone") await cp(ctx.service.dataDirs[index]!, dir, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: false, errorOnExist: true });
    else await mkdir(dir, { recursive: true });
  }
  const scratch = { ...ctx.service, dataDirs, env: { ...ctx.service.env, ...spec.env } };
  const target = ctx.record.target;
  const dir = releaseDir(ctx.service.installRoot, target);
  const env = (extra: Record<string, string> = {}) => hookEnv(ctx.config, scratch, { HOIST_VALIDATE: "1", HOIST_RELEASE_DIR: dir, ...extra });
  const user = ctx.service.user === undefined ? {} : { user: ctx.service.user };
  const track = (what: string) => (ctx.track ? { tracker: ctx.track(`${ctx.service.name} validate: ${what}`) } : {});
  ctx.onProgress({ step: "validate", message: `validating ${target} on ${spec.data === "clone" ? "a copy of the data" : "empty data"} (scratch instance)` });
  try {
    if (spec.data === "clone") {
      for (const hop of ctx.record.hops) {
        for (const migration of hop.migrations) {
          if (migration.scope === "cluster-once" || migration.when === "before-stop") continue;
          ctx.onProgress({ step: "validate", message: `${hop.from} -> ${hop.to}: running ${migration.name} on the copy` });
          await runHook(`migration ${migration.name} (validate)`, migration, {
            cwd: releaseDir(ctx.service.installRoot, hop.to),
            env: env({ HOIST_FROM_VERSION: hop.from, HOIST_TO_VERSION: hop.to, HOIST_RELEASE_DIR: releaseDir(ctx.service.installRoot, hop.to) }),
            signal: ctx.signal,
            ...user,
            ...track(`migration ${migration.name}`),
          });
        }
      }
    }
    ctx.onProgress({ step: "validate", message: `starting ${target} on the scratch data` });
    await runHook("start (validate)", ctx.service.hooks.start, { cwd: dir, env: env(), signal: ctx.signal, ...user, ...track("start hook") });
    await waitHealthy(spec.probes, {
      minHealthyMs: spec.minHealthyMs,
      healthyDeadlineMs: spec.healthyDeadlineMs,
      intervalMs: ctx.service.health.intervalMs,
      cwd: dir,
      env: env(),
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      ...user,
      ...track("probe"),
    });
    ctx.onProgress({ step: "validate", message: `${target} served on the scratch data; going on with production` });
  } finally {
    await runHook("stop (validate)", ctx.service.hooks.stop, { cwd: dir, env: env(), signal: new AbortController().signal, ...user, ...track("stop hook") }).catch((err: unknown) =>
      ctx.logger.warn({ err }, "stopping the scratch instance failed"),
    );
    await rm(scratchRoot, { recursive: true, force: true });
  }
};
