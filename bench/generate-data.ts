import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { seededRandom } from "../scripts/fleet-sim/timing.ts";

/** What `generateDataDir` wrote. */
export interface GeneratedData {
  files: number;
  bytes: number;
}

const WORDS = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore " +
  "magna aliqua key value index segment journal checkpoint page row column table commit ts=1763762100 level=info " +
  'user_id session token 0x7f3a9c payload {"a":1,"b":[2,3]} error warning debug trace node cluster shard replica'
).split(" ");

/** Text-like bytes (compress about 3-4x with gzip). */
function textBytes(size: number, random: () => number): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[Math.floor(random() * WORDS.length)]!;
    const sep = random() < 0.08 ? "\n" : " ";
    parts.push(word, sep);
    length += word.length + 1;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

function contentOf(size: number, random: () => number): Buffer {
  // Half the bytes incompressible (like already-compressed blobs), half text-like.
  return random() < 0.5 ? randomBytes(size) : textBytes(size, random);
}

/**
 * Writes a mixed data dir of about `totalMb` MiB into `dir`: many small files (1-16 KiB, about a third
 * of the bytes, spread over nested dirs), medium files (256 KiB - 4 MiB, another third) and a few large
 * ones (the rest), half random and half text; plus some empty dirs, symlinks and varied modes.
 */
export async function generateDataDir(dir: string, totalMb: number): Promise<GeneratedData> {
  const random = seededRandom(42);
  const totalBytes = totalMb * 1024 * 1024;
  let bytes = 0;
  let files = 0;
  const smallBudget = totalBytes * 0.34;
  const mediumBudget = totalBytes * 0.33;

  const write = async (path: string, size: number, mode = 0o644) => {
    await writeFile(path, contentOf(size, random), { mode });
    bytes += size;
    files += 1;
  };

  await mkdir(dir, { recursive: true });
  let small = 0;
  let index = 0;
  while (small < smallBudget) {
    const sub = join(dir, "objects", (index % 64).toString(16).padStart(2, "0"), (Math.floor(index / 64) % 8).toString());
    if (index < 512) await mkdir(sub, { recursive: true });
    const size = 1024 + Math.floor(random() * 15 * 1024);
    await write(join(sub, `obj-${index}.dat`), size, index % 50 === 0 ? 0o600 : 0o644);
    small += size;
    index += 1;
  }
  await mkdir(join(dir, "segments"), { recursive: true });
  let medium = 0;
  for (let i = 0; medium < mediumBudget; i++) {
    const size = 256 * 1024 + Math.floor(random() * 3840 * 1024);
    await write(join(dir, "segments", `seg-${i}.log`), size);
    medium += size;
  }
  await mkdir(join(dir, "blobs"), { recursive: true });
  const largeBudget = Math.max(0, totalBytes - bytes);
  const largeCount = 3;
  for (let i = 0; i < largeCount; i++) {
    const size = Math.floor(largeBudget / largeCount);
    // Large files are written in 16 MiB pieces to bound memory.
    const path = join(dir, "blobs", `blob-${i}.bin`);
    await writeFile(path, Buffer.alloc(0));
    const { open } = await import("node:fs/promises");
    const handle = await open(path, "w");
    for (let done = 0; done < size;) {
      const piece = Math.min(16 * 1024 * 1024, size - done);
      await handle.write(contentOf(piece, random));
      done += piece;
    }
    await handle.close();
    bytes += size;
    files += 1;
  }
  for (let i = 0; i < 20; i++) await mkdir(join(dir, "empty", `e${i}`), { recursive: true });
  await mkdir(join(dir, "bin"), { recursive: true });
  await writeFile(join(dir, "bin", "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await symlink("../segments/seg-0.log", join(dir, "bin", "latest.log"));
  await symlink("objects", join(dir, "objects-link"));
  return { files: files + 1, bytes: bytes + 18 };
}

/** Writes `count` tiny files (64 B - 2 KiB, text and random) into `dir`, 100 per dir. */
export async function generateTinyFiles(dir: string, count: number): Promise<GeneratedData> {
  const random = seededRandom(7);
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const sub = join(dir, `d${Math.floor(index / 100)}`);
    if (index % 100 === 0) await mkdir(sub, { recursive: true });
    const size = 64 + Math.floor(random() * 1984);
    await writeFile(join(sub, `f${index % 100}.txt`), contentOf(size, random));
    bytes += size;
  }
  return { files: count, bytes };
}

/** Writes `count` files of `mb` MiB each (random and text halves) into `dir`, in 16 MiB pieces. */
export async function generateBigFiles(dir: string, count: number, mb: number): Promise<GeneratedData> {
  const random = seededRandom(11);
  const { open } = await import("node:fs/promises");
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const handle = await open(join(dir, `big-${i}.bin`), "w");
    for (let done = 0; done < mb * 1024 * 1024; done += 16 * 1024 * 1024) await handle.write(contentOf(Math.min(16 * 1024 * 1024, mb * 1024 * 1024 - done), random));
    await handle.close();
  }
  return { files: count, bytes: count * mb * 1024 * 1024 };
}
