import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface StaticAsset {
  body: Buffer;
  contentType: string;
}

/**
 * The folder of the page's files: plain HTML, CSS and JavaScript, served as they are (no build step).
 * Resolved from the repository root, two levels up, so that it is found from this source file and
 * from a bundle of the CLI that also sits two levels below the root (dist/cli/).
 */
export const STATIC_DIR = fileURLToPath(new URL("../../coordinator/dashboard/static/", import.meta.url));

/** Every file of the page, read once at start, by URL path (`/` is index.html). */
export async function loadStaticAssets(dir = STATIC_DIR): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const name of await readdir(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) continue;
    const asset = { body: await readFile(join(dir, name)), contentType };
    assets.set(`/${name}`, asset);
    if (name === "index.html") assets.set("/", asset);
  }
  return assets;
}
