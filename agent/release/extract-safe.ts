import { constants } from "node:fs";
import { link, lstat, mkdir, open, readdir, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ReadEntry } from "tar";
import { HoistError, throwIfAborted } from "../../shared/errors/index.ts";
import { fsyncDir } from "../../shared/fs/index.ts";
import type { WorkOptions } from "../../shared/types/index.ts";

import { badArchive, parseArchive, planExtraction, sniffFormat, unsafe, type ExtractLimits, type ExtractResult, type Plan, type PlannedEntry } from "./extract-plan.ts";
export type { ExtractLimits, ExtractResult } from "./extract-plan.ts";

/**
 * Extracts a gzip or plain tar archive into `destDir`, refusing anything that could write outside it.
 *
 * Pass 1 parses every header with node-tar's parser and writes nothing. It refuses: paths with `..`,
 * absolute paths, backslashes or drive letters; symlinks whose target is absolute or resolves
 * outside (following the archive's own symlinks, like the kernel would); hardlinks to anything but
 * a regular file earlier in the archive; any entry whose path goes through a symlink or a file;
 * duplicate entries (a directory may repeat); devices, FIFOs and other types; setuid/setgid bits
 * (the sticky bit is dropped); more than `maxEntries` entries or `maxExtractedBytes` bytes; any
 * parser warning (bad checksum, truncated body, gzip error); an archive without the end-of-archive
 * marker; a file that is not gzip or ustar at all.
 *
 * Pass 2 parses again and writes each entry itself, sequentially, only if it matches pass 1 entry
 * for entry: files with O_CREAT|O_EXCL|O_NOFOLLOW and fsync, symlinks and hardlinks with plain
 * link calls that never overwrite. Modes are kept minus setuid/setgid/sticky (the process umask
 * still applies), mtimes of files are kept, ownership is never changed. Finally every directory
 * is fsynced. When it rejects, no write is still in flight; the caller removes `destDir`.
 *
 * `destDir` must not exist or be empty (its parent must exist).
 *
 * @throws HoistError ARCHIVE_UNSAFE (message names the entry and the rule), INVALID_ARGUMENT when
 *   destDir is not empty, CANCELLED / TIMEOUT when the signal fires.
 */
export async function extractArchiveSafely(archivePath: string, destDir: string, limits: ExtractLimits, options: WorkOptions = {}): Promise<ExtractResult> {
  throwIfAborted(options.signal);
  await sniffFormat(archivePath);
  const plan = await planExtraction(archivePath, limits, options.signal);
  await prepareDest(destDir);
  const result = await writeEntries(archivePath, destDir, plan, options);
  for (const dir of [...plan.dirs].sort((a, b) => b.length - a.length)) {
    throwIfAborted(options.signal);
    await fsyncDir(dir === "" ? destDir : join(destDir, dir));
  }
  return result;
}

async function prepareDest(destDir: string): Promise<void> {
  try {
    await mkdir(destDir, { mode: 0o755 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const info = await lstat(destDir);
  if (!info.isDirectory() || (await readdir(destDir)).length > 0) {
    throw new HoistError("INVALID_ARGUMENT", `extraction directory ${destDir} must be a new or empty directory`, { details: { destDir } });
  }
}

/** Pass 2: parse again, check each entry against the plan, write it. */
async function writeEntries(archivePath: string, destDir: string, plan: Plan, options: WorkOptions): Promise<ExtractResult> {
  const { onProgress, signal } = options;
  let index = 0;
  let files = 0;
  let bytes = 0;
  let reportedPercent = -1;
  const report = (): void => {
    const percent = plan.bytes === 0 ? 100 : Math.floor((bytes / plan.bytes) * 100);
    if (percent === reportedPercent) return;
    reportedPercent = percent;
    onProgress?.({ step: "stage", message: "extracting", bytes, totalBytes: plan.bytes, percent });
  };
  report();

  // File system calls are always awaited to the end (never abandoned), so that nothing is written
  // after this function settles; only waiting for archive data is cut short by `guard`.
  await parseArchive(
    archivePath,
    async (entry, guard) => {
      const planned = plan.entries[index];
      index += 1;
      if (planned === undefined || planned.raw !== entry.path || planned.type !== entry.type || planned.rawLinkpath !== entry.linkpath || planned.size !== (planned.kind === "file" ? entry.size : 0)) {
        throw unsafe(entry.path, "the archive changed between validation and extraction");
      }
      if (planned.kind !== "file") entry.resume();
      if (planned.path === "") return;
      const target = join(destDir, planned.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      switch (planned.kind) {
        case "dir":
          await makeDir(target, planned);
          return;
        case "symlink":
          await symlink(planned.linkpath as string, target);
          return;
        case "hardlink":
          await link(join(destDir, planned.linkpath as string), target);
          files += 1;
          return;
        case "file":
          await writeFile(entry, target, planned, guard, (chunk) => {
            bytes += chunk;
            report();
          });
          files += 1;
          return;
      }
    },
    signal,
  );
  if (index !== plan.entries.length) throw badArchive("the archive changed between validation and extraction");
  return { files, bytes };
}

async function makeDir(target: string, planned: PlannedEntry): Promise<void> {
  try {
    await mkdir(target, { mode: planned.mode | 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    if (!(await lstat(target)).isDirectory()) throw unsafe(planned.raw, "a non-directory is in the way");
  }
}

/** Writes a file's body with O_EXCL|O_NOFOLLOW (never through or over anything), then fsyncs it. */
async function writeFile(entry: ReadEntry, target: string, planned: PlannedEntry, guard: <T>(work: Promise<T>) => Promise<T>, onChunk: (bytes: number) => void): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(target, flags, planned.mode);
  let written = 0;
  try {
    const chunks = entry[Symbol.asyncIterator]();
    for (;;) {
      const next = await guard(chunks.next());
      if (next.done) break;
      const chunk = next.value;
      written += chunk.length;
      if (written > planned.size) throw unsafe(planned.raw, "the body is longer than its header says");
      await handle.write(chunk);
      onChunk(chunk.length);
    }
    if (written !== planned.size) throw unsafe(planned.raw, `the body is truncated (${written} of ${planned.size} bytes)`);
    if (planned.mtime !== undefined) await handle.utimes(planned.mtime, planned.mtime);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
