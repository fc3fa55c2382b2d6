import { writeFile } from "node:fs/promises";

/**
 * Writes the catalog a simulated fleet is rolled with: service `kv`, 1.0.0 -> 1.1.0. The artifact
 * URLs never resolve (simulated agents fetch nothing); the coordinator only plans from them.
 */
export async function writeSimCatalog(file: string): Promise<void> {
  const sha = (digit: string) => digit.repeat(64);
  await writeFile(
    file,
    [
      "services:",
      "  kv:",
      "    releases:",
      `      - { version: 1.0.0, artifact: { url: "https://releases.invalid/kv-1.0.0.tar.gz", sha256: "${sha("1")}", size: 1000000 } }`,
      `      - { version: 1.1.0, upgradeFrom: ["1.0.0"], artifact: { url: "https://releases.invalid/kv-1.1.0.tar.gz", sha256: "${sha("2")}", size: 1000000 } }`,
      "",
    ].join("\n"),
  );
}
