import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/**
 * Fingerprints a tree so two trees can be compared with one `expect(...).toEqual(...)`:
 * relative path -> "file:MODE:SHA256" | "dir:MODE" | "symlink:TARGET" for everything below `dir`
 * (the root itself is not included, so its own mode and name do not matter). MODE is the octal
 * permission bits including setuid/setgid/sticky, e.g. "0644". Symlinks are not followed.
 * Anything else (socket, FIFO, device) maps to "other:MODE". Keys are sorted. Owners and times
 * are not part of it. Files are read whole (one read per file): meant for test-sized trees.
 */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const found: [string, string][] = [];
  const files: [string, string, string][] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(abs, name);
      const info = await lstat(full);
      const mode = (info.mode & 0o7777).toString(8).padStart(4, "0");
      if (info.isSymbolicLink()) found.push([path, `symlink:${await readlink(full)}`]);
      else if (info.isDirectory()) {
        found.push([path, `dir:${mode}`]);
        await visit(full, path);
      } else if (info.isFile()) files.push([path, full, mode]);
      else found.push([path, `other:${mode}`]);
    }
  };
  await visit(dir, "");
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const [path, full, mode] = files[next++]!;
      found.push([
        path,
        `file:${mode}:${createHash("sha256")
          .update(await readFile(full))
          .digest("hex")}`,
      ]);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(found);
}
