import { statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { HostFacts } from "../node-agent-api.ts";
import { readMemoryFacts, readStaticFacts, type StaticFacts } from "./os-facts.ts";
import { HoistError } from "../../shared/errors/index.ts";
import type { Logger } from "../../shared/logger/index.ts";

export interface HostFactsCacheOptions {
  /** Install roots and data dirs whose filesystems to report (a missing path reports its nearest existing parent). */
  paths: readonly string[];
  /** Background refresh interval. Default 30 000 ms. */
  refreshMs?: number;
  logger?: Logger;
}

/**
 * Host facts for the inventory, read once at start() and refreshed in the background, so get()
 * answers instantly. OS and CPU are read at start only (os-facts.ts); memory, uptime and disks
 * every `refreshMs`. A failed refresh keeps the last facts and logs.
 * Timers are unref'd: the cache never keeps the process alive.
 */
export class HostFactsCache {
  private readonly paths: string[];
  private readonly refreshMs: number;
  private readonly logger: Logger | undefined;
  private staticFacts: StaticFacts | undefined;
  private facts: HostFacts | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<HostFacts> | undefined;

  constructor(options: HostFactsCacheOptions) {
    this.paths = [...new Set(options.paths.map((path) => resolve(path)))];
    this.refreshMs = options.refreshMs ?? 30_000;
    this.logger = options.logger;
  }

  /** Reads all facts once (awaited), then starts the background refresh. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger?.warn({ err }, "host facts refresh failed; keeping the last ones"));
    }, this.refreshMs);
    this.timer.unref();
  }

  /** The latest facts. Throws WRONG_STATE before start() has finished. */
  get(): HostFacts {
    if (!this.facts) throw new HoistError("WRONG_STATE", "host facts are not read yet: await HostFactsCache.start() first");
    return this.facts;
  }

  /** Reads the facts now (joins a refresh already running). */
  refresh(): Promise<HostFacts> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Stops the background refresh. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async read(): Promise<HostFacts> {
    const [staticFacts, memory, disks] = await Promise.all([this.readStatic(), readMemoryFacts(), Promise.all(this.paths.map(readDisk))]);
    const facts: HostFacts = {
      ...staticFacts,
      ...memory,
      disks,
      readAt: new Date().toISOString(),
    };
    this.facts = Object.freeze(facts);
    return facts;
  }

  private async readStatic(): Promise<StaticFacts> {
    this.staticFacts ??= await readStaticFacts();
    return this.staticFacts;
  }
}

/** Free and total bytes of the filesystem holding `path` (statfs of the nearest existing ancestor). */
async function readDisk(path: string): Promise<HostFacts["disks"][number]> {
  for (let probe = path; ; probe = dirname(probe)) {
    try {
      const stats = await statfs(probe);
      return { path, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(probe) === probe) throw err;
    }
  }
}
