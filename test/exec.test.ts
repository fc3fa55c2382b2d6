import { rejection } from "./helpers/rejection.ts";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLEAN_PATH, runCommand, runHook, type CommandResult } from "../agent/exec/index.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** Grandchildren a test started; killed afterwards whatever the test did. */
const strays: number[] = [];

afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** True when the pid no longer runs (absent, or a zombie nobody reaped yet). */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

async function readPid(file: string): Promise<number> {
  const pid = await waitFor(async () => Number((await readFile(file, "utf8").catch(() => "")).trim()) || undefined, {
    what: `pid in ${file}`,
  });
  strays.push(pid);
  return pid;
}

async function script(dir: string, name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await mkdir(join(file, ".."), { recursive: true });
  await writeFile(file, body);
  await chmod(file, 0o755);
  return file;
}

describe("runCommand", () => {
  it("reports exit codes and captures stdout and stderr", async () => {
    const cwd = await makeTempDir();
    const ok = await runCommand(["node", "-e", "process.stdout.write('out'); process.stderr.write('err')"], { cwd, timeoutMs: 10_000 });
    expect(ok).toMatchObject({ exitCode: 0, signal: null, timedOut: false, cancelled: false, stdout: "out", stderr: "err", truncated: false });

    const failed = await runCommand(["sh", "-c", "exit 3"], { cwd, timeoutMs: 10_000 });
    expect(failed.exitCode).toBe(3);
  });

  it("resolves a relative argv[0] with a slash against cwd", async () => {
    const cwd = await makeTempDir();
    await script(cwd, "bin/hello", '#!/bin/sh\necho "hello $1 from $(pwd)"\n');
    const result = await runCommand(["bin/hello", "world"], { cwd, timeoutMs: 10_000 });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("hello world from");
    expect(result.stdout.trim().endsWith(cwd.split("/").pop()!)).toBe(true);
  });

  it("uses no shell: $(touch x) is passed literally and nothing is created", async () => {
    const cwd = await makeTempDir();
    const result = await runCommand(["echo", "$(touch x)", "; touch y", "`touch z`"], { cwd, timeoutMs: 10_000 });
    expect(result.stdout).toBe("$(touch x) ; touch y `touch z`\n");
    expect(existsSync(join(cwd, "x"))).toBe(false);
    expect(existsSync(join(cwd, "y"))).toBe(false);
    expect(existsSync(join(cwd, "z"))).toBe(false);
  });

  it("gives the child a clean env: the agent's variables do not leak, extras do", async () => {
    const cwd = await makeTempDir();
    process.env.HOIST_TEST_LEAK = "secret";
    try {
      const result = await runCommand(["env"], { cwd, env: { SERVICE_MODE: "test" }, timeoutMs: 10_000 });
      const vars = Object.fromEntries(
        result.stdout
          .trim()
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      expect(vars.HOIST_TEST_LEAK).toBeUndefined();
      expect(vars.SERVICE_MODE).toBe("test");
      expect(vars.PATH).toBe(CLEAN_PATH);
      expect(vars.LANG).toBe("C.UTF-8");
      expect(Object.keys(vars).sort()).toEqual(["HOME", "LANG", "PATH", "SERVICE_MODE"]);
    } finally {
      delete process.env.HOIST_TEST_LEAK;
    }
  });

  it("timeout kills the whole process group, grandchild included", async () => {
    const cwd = await makeTempDir();
    const run = runCommand(["sh", "-c", "sleep 60 & echo $! > grandchild.pid; wait"], { cwd, timeoutMs: 300 });
    const grandchild = await readPid(join(cwd, "grandchild.pid"));
    const result = await run;
    expect(result.timedOut).toBe(true);
    expect(result.cancelled).toBe(false);
    expect(result.signal).toBe("SIGTERM");
    await waitFor(() => isGone(grandchild), { timeoutMs: 5000, what: `grandchild ${grandchild} to be gone` });
  });

  it("timeout SIGKILLs a grandchild that ignores SIGTERM after the grace", async () => {
    const cwd = await makeTempDir();
    const run = runCommand(["sh", "-c", "(trap '' TERM; exec sleep 60) & echo $! > grandchild.pid; wait"], {
      cwd,
      timeoutMs: 300,
      killGraceMs: 300,
    });
    const grandchild = await readPid(join(cwd, "grandchild.pid"));
    const result = await run;
    expect(result.timedOut).toBe(true);
    await waitFor(() => isGone(grandchild), { timeoutMs: 5000, what: `grandchild ${grandchild} to be gone` });
  });

  it("abort via signal kills the group and reports cancelled", async () => {
    const cwd = await makeTempDir();
    const controller = new AbortController();
    const run = runCommand(["sh", "-c", "sleep 60 & echo $! > grandchild.pid; wait"], { cwd, timeoutMs: 60_000, signal: controller.signal });
    const grandchild = await readPid(join(cwd, "grandchild.pid"));
    controller.abort();
    const result = await run;
    expect(result.cancelled).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBeNull();
    await waitFor(() => isGone(grandchild), { timeoutMs: 5000, what: `grandchild ${grandchild} to be gone` });
  });

  it("refuses to start when the signal is already aborted", async () => {
    const cwd = await makeTempDir();
    const err = await rejection(runCommand(["touch", "started"], { cwd, timeoutMs: 10_000, signal: AbortSignal.abort() }));
    expect(err.code).toBe("CANCELLED");
    expect(existsSync(join(cwd, "started"))).toBe(false);
  });

  it("bounds captured output of a child writing 10 MB and keeps draining so it finishes", async () => {
    const cwd = await makeTempDir();
    const code = "const b = Buffer.alloc(10 * 1024 * 1024, 97); process.stdout.write(b); process.stderr.write(b, () => process.exit(7));";
    const result = await runCommand(["node", "-e", code], { cwd, timeoutMs: 20_000 });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(7);
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(64 * 1024);
    expect(result.stderr.length).toBe(64 * 1024);
    expect(result.stdout).toMatch(/^a+$/);

    const small = await runCommand(["node", "-e", "process.stdout.write('x'.repeat(100))"], { cwd, timeoutMs: 20_000, maxOutputBytes: 10 });
    expect(small).toMatchObject({ stdout: "xxxxxxxxxx", truncated: true, exitCode: 0 });
  });

  it("throws HOOK_FAILED naming program and cwd when the program does not exist", async () => {
    const cwd = await makeTempDir();
    const bare = await rejection(runCommand(["no-such-program-hoist"], { cwd, timeoutMs: 10_000 }));
    expect(bare.code).toBe("HOOK_FAILED");
    expect(bare.message).toContain("no-such-program-hoist");
    expect(bare.message).toContain(cwd);
    expect(bare.details.errno).toBe("ENOENT");

    const relative = await rejection(runCommand(["bin/missing"], { cwd, timeoutMs: 10_000 }));
    expect(relative.code).toBe("HOOK_FAILED");
    expect(relative.message).toContain("bin/missing");
    expect(relative.message).toContain(cwd);
    expect(relative.details.errno).toBe("ENOENT");

    const badInterpreter = await script(cwd, "bin/old", "#!/no/such/interpreter\n");
    const interp = await rejection(runCommand([badInterpreter], { cwd, timeoutMs: 10_000 }));
    expect(interp.code).toBe("HOOK_FAILED");
    expect(interp.message).toContain("interpreter");

    const noCwd = await rejection(runCommand(["true"], { cwd: join(cwd, "nope"), timeoutMs: 10_000 }));
    expect(noCwd.code).toBe("HOOK_FAILED");
    expect(noCwd.message).toContain(join(cwd, "nope"));
  });

  it("throws HOOK_FAILED with EACCES for a file that is not executable", async () => {
    const cwd = await makeTempDir();
    await writeFile(join(cwd, "start"), "#!/bin/sh\necho hi\n");
    await chmod(join(cwd, "start"), 0o644);
    const err = await rejection(runCommand(["./start"], { cwd, timeoutMs: 10_000 }));
    if (process.getuid?.() === 0) {
      // root may execute anything with an x bit only; without one even root gets EACCES.
      expect(err.details.errno).toBe("EACCES");
    }
    expect(err.code).toBe("HOOK_FAILED");
    expect(err.message).toContain("not executable");
  });

  it("does not hang when a grandchild keeps the pipes open after the child exited", { timeout: 15_000 }, async () => {
    const cwd = await makeTempDir();
    const result = await runCommand(["sh", "-c", "sleep 30 & echo $! > grandchild.pid; echo started"], { cwd, timeoutMs: 60_000 });
    const grandchild = await readPid(join(cwd, "grandchild.pid"));
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.stdout).toBe("started\n");
    // A daemon left behind by a start script is not ours to kill when the script succeeded.
    expect(isGone(grandchild)).toBe(false);
  });

  it("leaves a daemon that detached with setsid and closed its pipes running", async () => {
    const cwd = await makeTempDir();
    const result = await runCommand(["sh", "-c", "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid"], { cwd, timeoutMs: 10_000 });
    const daemon = await readPid(join(cwd, "daemon.pid"));
    expect(result.exitCode).toBe(0);
    expect(isGone(daemon)).toBe(false);
  });
});

describe("runHook", () => {
  it("returns the result when the hook succeeds", async () => {
    const cwd = await makeTempDir();
    await script(cwd, "bin/start", "#!/bin/sh\necho started\n");
    const result: CommandResult = await runHook("start", { run: ["bin/start"], timeoutMs: 10_000 }, { cwd, env: {} });
    expect(result.stdout).toBe("started\n");
  });

  it("throws HOOK_FAILED with the exit code and the tail of stderr", async () => {
    const cwd = await makeTempDir();
    await script(cwd, "bin/migrate", "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo \"line $i\" >&2; done\necho 'schema v3 not supported' >&2\nexit 4\n");
    const err = await rejection(runHook("migrate", { run: ["bin/migrate", "--to", "3"], timeoutMs: 10_000 }, { cwd, env: {} }));
    expect(err.code).toBe("HOOK_FAILED");
    expect(err.message).toContain("hook migrate (bin/migrate --to 3) exited with code 4");
    expect(err.message).toContain("schema v3 not supported");
    expect(err.message).not.toContain("line 1\n");
    expect(err.details).toMatchObject({ hook: "migrate", exitCode: 4, signal: null, timedOut: false });
    expect(String(err.details.stderrTail)).toContain("schema v3 not supported");
  });

  it("throws HOOK_FAILED mentioning the timeout when the hook runs too long", async () => {
    const cwd = await makeTempDir();
    const err = await rejection(runHook("stop", { run: ["sleep", "60"], timeoutMs: 300 }, { cwd, env: {} }));
    expect(err.code).toBe("HOOK_FAILED");
    expect(err.message).toContain("timed out after 300 ms");
    expect(err.details.timedOut).toBe(true);
  });

  it("throws HOOK_FAILED when the hook is killed by a signal", async () => {
    const cwd = await makeTempDir();
    const err = await rejection(runHook("start", { run: ["sh", "-c", "kill -KILL $$"], timeoutMs: 10_000 }, { cwd, env: {} }));
    expect(err.code).toBe("HOOK_FAILED");
    expect(err.message).toContain("killed by SIGKILL");
    expect(err.details.signal).toBe("SIGKILL");
  });

  it("throws HOOK_FAILED naming the hook when its program is missing", async () => {
    const cwd = await makeTempDir();
    const err = await rejection(runHook("rejoin", { run: ["bin/rejoin"], timeoutMs: 10_000 }, { cwd, env: {} }));
    expect(err.code).toBe("HOOK_FAILED");
    expect(err.message).toMatch(/^hook rejoin: cannot run bin\/rejoin/);
  });

  it("throws CANCELLED or TIMEOUT per the reason of the caller's signal", async () => {
    const cwd = await makeTempDir();
    const controller = new AbortController();
    const cancelled = runHook("drain", { run: ["sh", "-c", "touch running; sleep 60"], timeoutMs: 60_000 }, { cwd, env: {}, signal: controller.signal });
    await waitFor(() => existsSync(join(cwd, "running")), { what: "drain hook to run" });
    controller.abort();
    expect((await rejection(cancelled)).code).toBe("CANCELLED");

    const timedOut = runHook("drain", { run: ["sleep", "60"], timeoutMs: 60_000 }, { cwd, env: {}, signal: AbortSignal.timeout(300) });
    expect((await rejection(timedOut)).code).toBe("TIMEOUT");
  });
});
