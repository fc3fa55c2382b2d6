import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import * as z from "zod";
import { loadYamlFile } from "../shared/config/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import { announceSchema, type ResolvedWebhook } from "./announce/webhook-config.ts";

/** The coordinator daemon's config file (`hoist coordinator --config FILE`); everything in it is optional. */
export const coordinatorConfigSchema = z
  .object({
    /** Webhooks that hear about rollouts (coordinator/announce). */
    announce: announceSchema.default({ webhooks: [] }),
  })
  .strict();

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>;

/** The config with every webhook's URL in hand (read from its urlFile where given). */
export interface LoadedCoordinatorConfig {
  webhooks: ResolvedWebhook[];
}

/**
 * Loads and validates the coordinator's config; a `urlFile` is read now (relative to the config's
 * dir), so a missing one fails the start, not the first announcement.
 * @throws HoistError CONFIG_INVALID listing every problem, or naming the unreadable urlFile (not its content).
 */
export async function loadCoordinatorConfig(path: string): Promise<LoadedCoordinatorConfig> {
  const config = await loadYamlFile(coordinatorConfigSchema, path);
  const base = dirname(resolve(path));
  const webhooks = await Promise.all(
    config.announce.webhooks.map(async ({ url, urlFile, ...rest }, index): Promise<ResolvedWebhook> => {
      if (url !== undefined) return { ...rest, url };
      const file = isAbsolute(urlFile!) ? urlFile! : resolve(base, urlFile!);
      const text = (
        await readFile(file, "utf8").catch((err: unknown) => {
          throw new HoistError("CONFIG_INVALID", `${path}: announce.webhooks.${index}.urlFile: cannot read ${file}: ${(err as Error).message}`, { cause: err });
        })
      ).trim();
      if (!z.url().safeParse(text).success) throw new HoistError("CONFIG_INVALID", `${path}: announce.webhooks.${index}.urlFile: ${file} does not hold a URL`);
      return { ...rest, url: text };
    }),
  );
  return { webhooks };
}
