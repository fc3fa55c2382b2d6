import { lstat, mkdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { extractArchiveSafely } from "../agent/release/index.ts";
import { HoistError } from "../shared/errors/index.ts";
import type { Progress } from "../shared/types/index.ts";
import { makeTarball, writeRawTar } from "./helpers/tar-writer.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";

const roomy = { maxExtractedBytes: 1024 * 1024, maxEntries: 1000 };

async function refusal(work: Promise<unknown>): Promise<HoistError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

describe("extractArchiveSafely", () => {
  it("extracts a node-tar tarball with dirs, modes, an inside symlink and keeps content", async () => {
    const dir = await makeTempDir();
    const tarball = await makeTarball(join(dir, "app.tgz"), {
      "bin/server": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
      "conf/app.yml": { content: "port: 1\n", mode: 0o640 },
      "conf/current.yml": { symlink: "app.yml" },
      "empty/": { dir: true },
      README: "hello",
    });
    const dest = join(dir, "out");
    const progress: Progress[] = [];
    const result = await extractArchiveSafely(tarball.path, dest, roomy, { onProgress: (p) => progress.push(p) });

    expect(result).toEqual({ files: 3, bytes: 18 + 8 + 5 });
    expect(await readFile(join(dest, "bin/server"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect((await stat(join(dest, "bin/server"))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dest, "conf/app.yml"))).mode & 0o777).toBe(0o640);
    expect(await readlink(join(dest, "conf/current.yml"))).toBe("app.yml");
    expect((await lstat(join(dest, "empty"))).isDirectory()).toBe(true);
    expect(progress.every((p) => p.step === "stage")).toBe(true);
    expect(progress.at(-1)).toMatchObject({ bytes: 31, totalBytes: 31, percent: 100 });
  });

  it("extracts a plain (uncompressed) tar", async () => {
    const dir = await makeTempDir();
    const tarball = await makeTarball(join(dir, "app.tar"), { "a.txt": "A" }, { gzip: false });
    await extractArchiveSafely(tarball.path, join(dir, "out"), roomy);
    expect(await readFile(join(dir, "out/a.txt"), "utf8")).toBe("A");
  });

  it("keeps inside symlinks that go up and hardlinks to earlier files, and file mtimes", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "links.tar");
    const mtime = new Date("2021-05-06T07:08:09Z");
    await writeFile(
      archive,
      writeRawTar([
        { path: "lib/", type: "dir" },
        { path: "lib/real.so", body: "ELF", mode: 0o755, mtime },
        { path: "bin/", type: "dir" },
        { path: "bin/lib", type: "symlink", linkpath: "../lib" },
        { path: "bin/copy.so", type: "hardlink", linkpath: "lib/real.so" },
      ]),
    );
    const result = await extractArchiveSafely(archive, join(dir, "out"), roomy);
    expect(result.files).toBe(2);
    expect(await readlink(join(dir, "out/bin/lib"))).toBe("../lib");
    const real = await stat(join(dir, "out/lib/real.so"));
    expect((await stat(join(dir, "out/bin/copy.so"))).ino).toBe(real.ino);
    expect(real.mtime.getTime()).toBe(mtime.getTime());
  });

  it("drops the sticky bit instead of keeping it", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "sticky.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "tmp/", type: "dir", mode: 0o1777 },
        { path: "tmp/f", body: "x", mode: 0o1644 },
      ]),
    );
    await extractArchiveSafely(archive, join(dir, "out"), roomy);
    expect((await stat(join(dir, "out/tmp"))).mode & 0o7000).toBe(0);
    expect((await stat(join(dir, "out/tmp/f"))).mode & 0o7000).toBe(0);
  });

  it("accepts exactly maxEntries entries and exactly maxExtractedBytes bytes", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "edge.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "a", body: "12345" },
        { path: "b", body: "67890" },
      ]),
    );
    const result = await extractArchiveSafely(archive, join(dir, "out"), { maxEntries: 2, maxExtractedBytes: 10 });
    expect(result).toEqual({ files: 2, bytes: 10 });
  });

  it("refuses one entry over maxEntries before writing anything", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "many.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "a", body: "1" },
        { path: "b", body: "2" },
        { path: "c", body: "3" },
      ]),
    );
    const err = await refusal(extractArchiveSafely(archive, join(dir, "out"), { maxEntries: 2, maxExtractedBytes: 100 }));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain('"c"');
    expect(err.message).toContain("maxEntries (2)");
    await expect(stat(join(dir, "out"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("counts directories implied by a deep path against maxEntries", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "deep.tar");
    await writeFile(archive, writeRawTar([{ path: "a/b/c/file", body: "x" }]));
    const err = await refusal(extractArchiveSafely(archive, join(dir, "out"), { maxEntries: 3, maxExtractedBytes: 100 }));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain("maxEntries (3)");
    expect(await extractArchiveSafely(archive, join(dir, "out"), { maxEntries: 4, maxExtractedBytes: 100 })).toEqual({ files: 1, bytes: 1 });
  });

  it("refuses symlinks that loop", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "loop.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "a", type: "symlink", linkpath: "b" },
        { path: "b", type: "symlink", linkpath: "a" },
      ]),
    );
    const err = await refusal(extractArchiveSafely(archive, join(dir, "out"), roomy));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain("loops");
  });

  it("refuses a path through a symlink differing only in case (case-insensitive filesystems)", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "case.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "sub/", type: "dir" },
        { path: "Link", type: "symlink", linkpath: "sub" },
        { path: "link/evil", body: "x" },
      ]),
    );
    const err = await refusal(extractArchiveSafely(archive, join(dir, "out"), roomy));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain('"link/evil"');
  });

  it("refuses a gzip bomb-like file over maxExtractedBytes before writing anything", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "big.tgz");
    await writeFile(archive, gzipSync(writeRawTar([{ path: "zeros", body: Buffer.alloc(512 * 1024) }])));
    const err = await refusal(extractArchiveSafely(archive, join(dir, "out"), { maxEntries: 10, maxExtractedBytes: 64 * 1024 }));
    expect(err.code).toBe("ARCHIVE_UNSAFE");
    expect(err.message).toContain("maxExtractedBytes (65536 bytes)");
    await expect(stat(join(dir, "out"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses to extract into a non-empty directory", async () => {
    const dir = await makeTempDir();
    const tarball = await makeTarball(join(dir, "app.tgz"), { "a.txt": "A" });
    await mkdir(join(dir, "out"));
    await writeFile(join(dir, "out/other"), "x");
    const err = await refusal(extractArchiveSafely(tarball.path, join(dir, "out"), roomy));
    expect(err.code).toBe("INVALID_ARGUMENT");
    await expect(stat(join(dir, "out/a.txt"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("stops with CANCELLED when the signal is aborted during extraction", async () => {
    const dir = await makeTempDir();
    const archive = join(dir, "two.tar");
    await writeFile(
      archive,
      writeRawTar([
        { path: "first", body: Buffer.alloc(4096, 1) },
        { path: "second", body: Buffer.alloc(4096, 2) },
      ]),
    );
    const controller = new AbortController();
    const err = await refusal(
      extractArchiveSafely(archive, join(dir, "out"), roomy, {
        signal: controller.signal,
        onProgress: (p) => {
          if ((p.bytes ?? 0) > 0) controller.abort();
        },
      }),
    );
    expect(err.code).toBe("CANCELLED");
    await expect(stat(join(dir, "out/second"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
