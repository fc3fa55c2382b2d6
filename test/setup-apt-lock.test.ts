import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const APT_LIB = join(import.meta.dirname, "..", "scripts", "lib", "apt.sh");
/** Holds apt's lists lock the way apt does (an fcntl lock) for SECONDS, as unattended-upgrades would. */
const HOLD_LOCK = "import fcntl, os, sys, time\nfd = os.open('/var/lib/apt/lists/lock', os.O_RDWR | os.O_CREAT)\nfcntl.lockf(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(float(sys.argv[1]))\n";
const canRun = process.getuid?.() === 0 && spawnSync("python3", ["--version"]).status === 0 && spawnSync("apt-get", ["--version"]).status === 0;

describe("scripts/setup.sh waits for the apt lock", () => {
  it.skipIf(!canRun)("apt-get update while another process holds the lists lock: setup waits, says who holds it, and goes on once it is free", async () => {
    const holder = spawn("python3", ["-c", HOLD_LOCK, "3"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    // No package sources: apt-get update takes the lock and reads nothing from the network.
    const update = spawnSync("bash", ["-c", `source ${APT_LIB}; apt_update -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=/nonexistent`], { encoding: "utf8", timeout: 60_000 });
    await new Promise((resolve) => (holder.exitCode === null ? holder.once("exit", resolve) : resolve(undefined)));
    expect(update.status, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/waiting for the apt lock, held by process \d+ \(python3\)/);
    expect(update.stdout).toContain("the apt lock is free");
  });
});
