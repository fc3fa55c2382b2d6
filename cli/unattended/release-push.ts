import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { openBus } from "../../coordinator/bus/open-bus.ts";
import { withBusOptions, type BusFlags } from "../../coordinator/cli/bus-options.ts";
import { encodeJson } from "../../shared/bus/index.ts";
import { loadCatalog } from "../../shared/catalog/index.ts";
import { HoistError } from "../../shared/errors/index.ts";
import { KV_CATALOG, loadKey, OBJECT_ARTIFACTS, objectArtifactSha, objectArtifactUrl, signText } from "../../shared/unattended/index.ts";

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * `hoist release push --catalog catalog.yaml`: every artifact of the catalog into the JetStream
 * object store `hoist_artifacts` (named by sha256, checked before upload, skipped when already
 * there), and the catalog, its urls rewritten to `nats-object:SHA256`, into KV `hoist_catalog`
 * (key CLUSTER, or `_all`), optionally signed. Agents then need no URL they can reach.
 */
export function registerReleasePushCommand(program: Command): void {
  const release = program.commands.find((command) => command.name() === "release") ?? program.command("release").description("releases: push artifacts and catalogs to NATS");
  withBusOptions(release.command("push"))
    .description("store every artifact of a catalog in the NATS object store and the catalog in KV (agents fetch from there)")
    .requiredOption("--catalog <file>", "catalog file (local artifact paths)")
    .option("--cluster <id>", "the catalog of this cluster only (default: every cluster)")
    .option("--sign-key <pem>", "ed25519 private key (PEM) to sign the catalog with")
    .action(async (flags: BusFlags & { catalog: string; cluster?: string; signKey?: string }) => {
      const catalog = await loadCatalog(flags.catalog);
      const signKey = flags.signKey ? await loadKey(flags.signKey, "private") : undefined;
      const bus = await openBus(flags, "hoist release push");
      try {
        const js = bus.nc.jetstream();
        const store = await js.views.os(OBJECT_ARTIFACTS);
        const kv = await js.views.kv(KV_CATALOG, { history: 5 });
        let pushed = 0;
        let present = 0;
        for (const [service, entry] of Object.entries(catalog.services)) {
          for (const releaseEntry of entry.releases) {
            const { artifact } = releaseEntry;
            if (objectArtifactSha(artifact.url)) continue;
            if (/^https?:/.test(artifact.url)) throw new HoistError("INVALID_ARGUMENT", `${service} ${releaseEntry.version}: release push reads local artifacts; download ${artifact.url} first`);
            const path = artifact.url.startsWith("file:") ? new URL(artifact.url) : artifact.url;
            const actual = await sha256Of(typeof path === "string" ? path : path.pathname);
            if (actual !== artifact.sha256) throw new HoistError("ARTIFACT_CHECKSUM_MISMATCH", `${service} ${releaseEntry.version}: ${artifact.url} has sha256 ${actual}, the catalog says ${artifact.sha256}`);
            const info = await store.info(actual).catch(() => null);
            if (info && !info.deleted) present++;
            else {
              const bytes = await readFile(path);
              await store.put({ name: actual, description: `${service} ${releaseEntry.version}` }, Readable.toWeb(Readable.from([bytes])) as ReadableStream<Uint8Array>);
              pushed++;
            }
            artifact.url = objectArtifactUrl(actual);
          }
        }
        const text = JSON.stringify(catalog);
        const signature = signKey ? signText(text, signKey) : undefined;
        const revision = await kv.put(flags.cluster ?? "_all", encodeJson({ text, ...(signature ? { signature } : {}), setAt: Date.now() }));
        process.stdout.write(`pushed ${pushed} artifact(s) (${present} already there); catalog stored for ${flags.cluster ?? "every cluster"} as revision ${revision}${signature ? ` (signed by key ${signature.keyId})` : ""}\n`);
      } finally {
        await bus.close();
      }
    });
}
