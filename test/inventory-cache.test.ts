/**
 * InventoryCache on real dirs: what makes it read again (a rename in a watched dir, invalidate(),
 * age) and what it refuses to cache (a dir changed within the settle window, a read that an
 * invalidate() overtook). The clock is shifted past the settle window instead of waiting it out.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InventoryCache } from "../agent/services/inventory-cache.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const SETTLE = 2000;

async function setup() {
  const dir = await makeTempDir();
  const watched = join(dir, "watched");
  await mkdir(watched);
  const clock = { shift: 0 };
  let value = 0;
  let gate: Promise<void> | undefined;
  const cache = new InventoryCache({
    dirs: [watched, join(dir, "missing")],
    settleMs: SETTLE,
    maxAgeMs: 60_000,
    now: () => Date.now() + clock.shift,
    read: async () => {
      const seen = value;
      await gate;
      return seen;
    },
  });
  return {
    watched,
    cache,
    clock,
    setValue: (next: number) => (value = next),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("InventoryCache", () => {
  it("serves the cached value while nothing changed, and reads again after a rename in a watched dir", async () => {
    const { watched, cache, clock, setValue } = await setup();
    clock.shift = SETTLE + 1000;
    setValue(1);
    expect(await cache.get()).toBe(1);
    setValue(2);
    expect(await cache.get()).toBe(1);
    expect(cache.readCount()).toBe(1);

    await writeFile(join(watched, ".tmp"), "x");
    await rename(join(watched, ".tmp"), join(watched, "entry"));
    clock.shift += SETTLE + 1000;
    expect(await cache.get()).toBe(2);
    await rm(join(watched, "entry"));
    setValue(3);
    clock.shift += SETTLE + 1000;
    expect(await cache.get()).toBe(3);
  });

  it("reads again after invalidate(), and after maxAge", async () => {
    const { cache, clock, setValue } = await setup();
    clock.shift = SETTLE + 1000;
    setValue(1);
    expect(await cache.get()).toBe(1);
    setValue(2);
    cache.invalidate();
    expect(await cache.get()).toBe(2);
    setValue(3);
    expect(await cache.get()).toBe(2);
    clock.shift += 60_000;
    expect(await cache.get()).toBe(3);
  });

  it("does not cache while a watched dir changed within the settle window", async () => {
    const { watched, cache, setValue } = await setup();
    await writeFile(join(watched, "fresh"), "x");
    setValue(1);
    expect(await cache.get()).toBe(1);
    setValue(2);
    expect(await cache.get()).toBe(2);
    expect(cache.readCount()).toBe(2);
  });

  it("does not keep a read that an invalidate() overtook, and shares one read between concurrent misses", async () => {
    const { cache, clock, setValue, hold } = await setup();
    clock.shift = SETTLE + 1000;
    setValue(1);
    let release = hold();
    const first = cache.get();
    const second = cache.get();
    await Promise.resolve();
    release();
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(cache.readCount()).toBe(1);

    cache.invalidate();
    release = hold();
    const overtaken = cache.get();
    await Promise.resolve();
    setValue(2);
    cache.invalidate();
    release();
    expect(await overtaken).toBe(1);
    expect(await cache.get()).toBe(2);
  });
});
