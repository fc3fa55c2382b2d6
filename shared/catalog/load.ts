import { dirname, isAbsolute, resolve } from "node:path";
import { HoistError } from "../errors/index.ts";
import { loadYamlFile } from "../config/index.ts";
import { catalogSchema, type Catalog, type ServiceCatalog } from "./schema.ts";

/** Loads a catalog file; local artifact paths are made absolute relative to the file. */
export async function loadCatalog(path: string): Promise<Catalog> {
  const catalog = await loadYamlFile(catalogSchema, path);
  const base = dirname(resolve(path));
  for (const service of Object.values(catalog.services)) {
    for (const release of service.releases) {
      const url = release.artifact.url;
      if (!/^https?:\/\//.test(url) && !url.startsWith("file:") && !url.startsWith("nats-object:") && !isAbsolute(url)) {
        release.artifact.url = resolve(base, url);
      }
    }
  }
  return catalog;
}

/** The catalog of one service, or NOT_FOUND naming the services the catalog has. */
export function serviceCatalog(catalog: Catalog, service: string): ServiceCatalog {
  const entry = catalog.services[service];
  if (!entry) {
    throw new HoistError("NOT_FOUND", `service ${service} is not in the catalog (has: ${Object.keys(catalog.services).join(", ")})`);
  }
  return entry;
}
