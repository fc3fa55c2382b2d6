/**
 * One snapshot step (create + verify, as the upgrade runs it) in a process of its own, so that its
 * peak RSS is its own: `tsx bench/snapshot-step-child.ts DATA_DIR SNAPSHOTS_DIR`. Prints one JSON
 * line: seconds, CPU seconds (all threads), peak RSS, RSS before and a while after (memory given back), snapshot id.
 * The worker is started first and not timed (the agent starts it before stopping the service).
 */
import { join } from "node:path";
import { createSnapshot, prepareSnapshotWorker, verifySnapshot } from "../agent/snapshot/index.ts";
import { acquireSnapshotWorker, releaseSnapshotWorker } from "../agent/snapshot/worker-client.ts";
import { collectGarbageSoon } from "../agent/memory/collect-garbage.ts";

const [data, snapshots] = process.argv.slice(2) as [string, string];
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

prepareSnapshotWorker();
const warm = acquireSnapshotWorker();
await warm.scan(join(snapshots, "no-such-dir"));
await releaseSnapshotWorker(warm);
const rssBefore = process.memoryUsage().rss;
const cpuBefore = process.cpuUsage();
const start = performance.now();
const info = await createSnapshot({ service: "bench", dataDirs: [data], snapshotsDir: snapshots, compression: "none" });
await verifySnapshot(snapshots, info.id);
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const rssAtEnd = process.memoryUsage().rss;
// As the agent after every change: one full collection 6 s later (agent/memory/collect-garbage.ts).
collectGarbageSoon();
// The idle worker stops 5 s after its last job, the collection follows at 6 s; RSS is read at 10 s.
await new Promise((resolve) => setTimeout(resolve, 10_000));
const rssAfter = process.memoryUsage().rss;
console.log(JSON.stringify({ seconds, cpuSeconds, peakRssMiB: mib(process.resourceUsage().maxRSS * 1024), rssBeforeMiB: mib(rssBefore), rssAtEndMiB: mib(rssAtEnd), rssAfter10sMiB: mib(rssAfter), id: info.id }));
process.exit(0);
