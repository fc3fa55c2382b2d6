import { readFile } from "node:fs/promises";
import { arch, cpus, freemem, hostname, release, totalmem, type as osType, uptime } from "node:os";
import type { HostFacts } from "../node-agent-api.ts";

/** The facts that do not change while the agent runs. */
export type StaticFacts = Pick<HostFacts, "hostname" | "os" | "kernel" | "arch" | "cpuModel" | "cpuCores">;

/** Memory and uptime, read at every refresh. */
export type MemoryFacts = Pick<HostFacts, "memTotalBytes" | "memFreeBytes" | "uptimeSeconds">;

/**
 * OS, kernel and CPU from node:os and /etc/os-release (what systeminformation reads too, without
 * its ~9 MiB of resident memory and the commands it runs). Elsewhere than Linux, systeminformation
 * is imported for this one read.
 */
export async function readStaticFacts(): Promise<StaticFacts> {
  const osRelease = await readOsRelease();
  if (osRelease === undefined) return readStaticFactsWithSystemInformation();
  const processors = cpus();
  return {
    hostname: hostname(),
    os: [osRelease.NAME, osRelease.VERSION_ID].filter(Boolean).join(" ") || osRelease.PRETTY_NAME || osType(),
    kernel: release(),
    arch: arch(),
    cpuModel: processors[0]?.model.trim() ?? "",
    cpuCores: processors.length,
  };
}

/** Total and available memory (MemAvailable of /proc/meminfo: what can be had without swapping) and uptime. */
export async function readMemoryFacts(): Promise<MemoryFacts> {
  const meminfo = await readFile("/proc/meminfo", "utf8").catch(() => undefined);
  const kib = (field: string) => {
    const match = meminfo === undefined ? null : new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(meminfo);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  return { memTotalBytes: kib("MemTotal") ?? totalmem(), memFreeBytes: kib("MemAvailable") ?? freemem(), uptimeSeconds: Math.floor(uptime()) };
}

/** The KEY=value pairs of /etc/os-release (or /usr/lib/os-release), unquoted; undefined when neither exists. */
async function readOsRelease(): Promise<Record<string, string> | undefined> {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const fields: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (match) fields[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, "$2");
    }
    return fields;
  }
  return undefined;
}

async function readStaticFactsWithSystemInformation(): Promise<StaticFacts> {
  const { osInfo, cpu } = await import("systeminformation");
  const [os, processor] = await Promise.all([osInfo(), cpu()]);
  return {
    hostname: os.hostname,
    os: [os.distro, os.release].filter(Boolean).join(" ") || os.platform,
    kernel: os.kernel,
    arch: os.arch,
    cpuModel: [processor.manufacturer, processor.brand].filter(Boolean).join(" "),
    cpuCores: processor.cores,
  };
}
