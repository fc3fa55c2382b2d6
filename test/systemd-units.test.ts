import { execFile, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { HOIST_BIN } from "./helpers/hoist-cli.ts";
import { makeSampleNode } from "./helpers/sample-node.ts";
import { ensureSampleReleases } from "./helpers/sample-service.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

const run = promisify(execFile);
const UNITS_DIR = join(import.meta.dirname, "..", "examples", "systemd");
const UNITS = ["hoist-agent.service", "hoist-coordinator.service"] as const;
/** Where docs/install.md puts the command; the test points it at this checkout's bin/hoist.mjs. */
const INSTALLED_BIN = "/opt/hoist/bin/hoist";

/** The unit as shipped, but with ExecStart on this checkout (systemd-analyze verify insists the binary exists). */
async function unitHere(unit: string, dir: string): Promise<string> {
  const text = await readFile(join(UNITS_DIR, unit), "utf8");
  expect(text).toContain(`ExecStart=${INSTALLED_BIN} `);
  const path = join(dir, unit);
  await writeFile(path, text.replaceAll(INSTALLED_BIN, HOIST_BIN));
  return path;
}

/** systemd-analyze from Debian's systemd package (scripts/setup.sh installs it). Missing is a failure, never a skip. */
async function systemdAnalyze(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run("systemd-analyze", args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error("systemd-analyze is missing: run scripts/setup.sh (Debian package systemd)", { cause: err });
    throw err;
  }
}

/** `Key=value` lines of a unit (continuations joined), by key. */
function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.replace(/\\\n\s*/g, " ").split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) map.set(match[1]!, [...(map.get(match[1]!) ?? []), match[2]!]);
  }
  return map;
}

describe("examples/systemd units", () => {
  it.each(UNITS)("%s passes systemd-analyze verify without a single warning", async (unit) => {
    const path = await unitHere(unit, await makeTempDir());
    const { stdout, stderr } = await systemdAnalyze(["verify", path]);
    expect(stderr).toBe("");
    expect(stdout).toBe("");
  });

  it.each(UNITS)("%s runs as the dedicated user, hardened, restarts on failure, stops with SIGTERM", async (unit) => {
    const text = await readFile(join(UNITS_DIR, unit), "utf8");
    const keys = directives(text);
    expect(keys.get("User")).toEqual(["hoist"]);
    for (const [key, value] of Object.entries({
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      Restart: "on-failure",
      KillSignal: "SIGTERM",
      KillMode: "mixed",
      CapabilityBoundingSet: "",
    })) {
      expect(keys.get(key), key).toEqual([value]);
    }
    // Its state dir is writable (ProtectSystem=strict makes everything else read-only).
    const stateDir = `/var/lib/${keys.get("StateDirectory")![0]}`;
    expect(keys.get("ReadWritePaths")![0]!.split(" ")).toContain(stateDir);
    expect(keys.get("ExecStart")![0]).toContain(stateDir === "/var/lib/hoist" ? "--config /etc/hoist/agent.yaml" : `--state-dir ${stateDir}`);
  });

  it.each(UNITS)("%s: systemd-analyze security rates its exposure OK (at most 3.0; an unhardened unit of the same command is 9.2)", async (unit) => {
    const path = await unitHere(unit, await makeTempDir());
    const { stdout } = await systemdAnalyze(["security", "--offline=yes", "--no-pager", path]);
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(stdout)?.[1]);
    expect(exposure).toBeLessThanOrEqual(3.0);
  });

  it("the agent unit's ExecStart runs the agent with the unit's NODE_OPTIONS (a young generation of 1 MiB, gc exposed), and its KillSignal (SIGTERM) stops it with exit code 0", { timeout: 60_000 }, async () => {
    await ensureSampleReleases();
    const node = await makeSampleNode(await makeTempDir(), { node: "unit-node", cluster: "units", extra: { grpc: { listen: "127.0.0.1:0", insecure: true } } });
    const unit = directives(await readFile(join(UNITS_DIR, "hoist-agent.service"), "utf8"));
    const argv = unit.get("ExecStart")![0]!.replace(INSTALLED_BIN, HOIST_BIN).replace("/etc/hoist/agent.yaml", node.configPath).split(" ");
    // With the unit's environment but for the CA file, which this host does not have.
    const env = Object.fromEntries(
      (unit.get("Environment") ?? [])
        .map(
          (assignment) =>
            assignment
              .replace(/^"(.*)"$/, "$1")
              .split(/=(.*)/s)
              .slice(0, 2) as [string, string],
        )
        .filter(([key]) => key !== "NODE_EXTRA_CA_CERTS"),
    );
    expect(env.NODE_OPTIONS).toBe("--max-semi-space-size=1 --expose-gc");
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    try {
      await waitFor(() => output.includes("agent running"), { timeoutMs: 30_000, what: "the agent to run" });
      child.kill("SIGTERM");
      expect(await exited, output).toEqual({ code: 0, signal: null });
      expect(output).toContain('"msg":"stopped"');
    } finally {
      child.kill("SIGKILL");
    }
  });
});
