import { freePort } from "../../scripts/lib/free-port.ts";
import { spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { request } from "node:http";
import { dirname, join } from "node:path";
import * as tar from "tar";
import type { z } from "zod";
import type { serviceSchema } from "../../agent/config.ts";
import { DEFAULT_SAMPLE_OUT_DIR, SAMPLE_CATALOG_FILE, SAMPLE_RELEASES, buildSampleReleases, sampleTarballName, type SampleBuildResult } from "../../scripts/make-sample-releases.ts";
import { waitFor } from "./wait-for.ts";

/** Where the global setup (and ensureSampleReleases) builds the kv release tarballs and catalog. */
export const SAMPLE_RELEASES_DIR = DEFAULT_SAMPLE_OUT_DIR;

/** The kv versions in catalog order: 1.0.0, 1.1.0, 1.1.1, 1.2.0 (crashes), 1.3.0 (bad migration), 2.0.0. */
export const SAMPLE_VERSIONS: readonly string[] = SAMPLE_RELEASES.map((release) => release.version);

/** The catalog listing every kv release (artifact urls relative to it). */
export function sampleCatalogPath(): string {
  return join(SAMPLE_RELEASES_DIR, SAMPLE_CATALOG_FILE);
}

/** The tarball of one kv version. */
export function sampleTarballPath(version: string): string {
  return join(SAMPLE_RELEASES_DIR, sampleTarballName(version));
}

let ensured: Promise<SampleBuildResult> | undefined;

/** Builds the sample releases in-process unless they are current; once per test process. */
export function ensureSampleReleases(): Promise<SampleBuildResult> {
  ensured ??= buildSampleReleases({ outDir: SAMPLE_RELEASES_DIR });
  return ensured;
}

/** What GET /version answers. */
export interface KvVersionInfo {
  version: string;
  schema: number;
  greeting: string;
  node: string | null;
  pid: number;
}

export interface KvClusterInfo {
  member: boolean;
  node: string | null;
  version: string;
}

export interface KvResponse {
  status: number;
  body: string;
}

export interface KvRequestOptions {
  signal?: AbortSignal;
}

/** A small HTTP client for one kv server. Methods reject when the server cannot be reached. */
export interface KvClient {
  port: number;
  /** Status and body of GET /healthz (200 "ok" when healthy, 500 after a FATAL). */
  healthz(options?: KvRequestOptions): Promise<KvResponse>;
  version(options?: KvRequestOptions): Promise<KvVersionInfo>;
  /** The value, or undefined when the key is not set. */
  get(key: string, options?: KvRequestOptions): Promise<string | undefined>;
  put(key: string, value: string, options?: KvRequestOptions): Promise<void>;
  /** True when the key existed. */
  delete(key: string, options?: KvRequestOptions): Promise<boolean>;
  all(options?: KvRequestOptions): Promise<Record<string, string>>;
  cluster(options?: KvRequestOptions): Promise<KvClusterInfo>;
}

/** A client for the kv server on 127.0.0.1:port. Each call has a 5 s budget on top of `signal`. */
export function kvClient(port: number): KvClient {
  const call = async (method: string, path: string, options: KvRequestOptions = {}, body?: string): Promise<KvResponse> => httpRequest(port, method, path, body, options.signal);
  const expect = (response: KvResponse, what: string, ...statuses: number[]): KvResponse => {
    if (!statuses.includes(response.status)) throw new Error(`kv on port ${port}: ${what} answered ${response.status}: ${response.body.trim()}`);
    return response;
  };
  const keyPath = (key: string) => `/kv/${encodeURIComponent(key)}`;
  return {
    port,
    healthz: (options) => call("GET", "/healthz", options),
    version: async (options) => JSON.parse(expect(await call("GET", "/version", options), "GET /version", 200).body) as KvVersionInfo,
    get: async (key, options) => {
      const response = expect(await call("GET", keyPath(key), options), `GET ${key}`, 200, 404);
      return response.status === 404 ? undefined : response.body;
    },
    put: async (key, value, options) => {
      expect(await call("PUT", keyPath(key), options, value), `PUT ${key}`, 204);
    },
    delete: async (key, options) => expect(await call("DELETE", keyPath(key), options), `DELETE ${key}`, 204, 404).status === 204,
    all: async (options) => JSON.parse(expect(await call("GET", "/kv", options), "GET /kv", 200).body) as Record<string, string>,
    cluster: async (options) => JSON.parse(expect(await call("GET", "/cluster", options), "GET /cluster", 200).body) as KvClusterInfo,
  };
}

function httpRequest(port: number, method: string, path: string, body: string | undefined, signal?: AbortSignal): Promise<KvResponse> {
  const budget = signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000);
  return new Promise((resolve, reject) => {
    // agent: false, so no pooled keep-alive socket outlives the call (it would hold up a graceful stop).
    const req = request({ host: "127.0.0.1", port, method, path, agent: false, signal: budget }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export interface SampleServiceOptions {
  /** Dir holding this instance's install/, data/ and run/. */
  root: string;
  port: number;
  /** KV_NODE; default "node-1". */
  node?: string;
  /** KV_SHARED_DB: a file shared by every node of the cluster (for cluster-once migrations). */
  sharedDb?: string;
}

/** One entry of `services:` in an agent config, before defaults are filled in. */
export type SampleServiceConfig = z.input<typeof serviceSchema>;

/**
 * The agent config entry for a kv instance under `root`: install/ (releases and `current`),
 * data/, run/ (pid and log). Health: GET /healthz plus the log watched for FATAL, held 500 ms.
 */
export function sampleServiceConfig(options: SampleServiceOptions): SampleServiceConfig {
  const { root, port } = options;
  // No PATH: the agent gives every hook its own clean PATH with node's dir first.
  const env: Record<string, string> = {
    KV_PORT: String(port),
    KV_RUN_DIR: join(root, "run"),
    KV_NODE: options.node ?? "node-1",
  };
  if (options.sharedDb !== undefined) env.KV_SHARED_DB = options.sharedDb;
  return {
    name: "kv",
    installRoot: join(root, "install"),
    dataDirs: [join(root, "data")],
    preserve: ["config/service.conf"],
    env,
    hooks: {
      start: { run: ["bin/start"] },
      stop: { run: ["bin/stop"] },
      drain: { run: ["bin/leave"] },
      rejoin: { run: ["bin/join"] },
    },
    health: {
      probes: [
        { type: "http", url: `http://127.0.0.1:${port}/healthz` },
        { type: "log", file: join(root, "run", "kv.log"), failPattern: "FATAL" },
      ],
      minHealthyMs: 500,
      healthyDeadlineMs: 10_000,
      intervalMs: 100,
    },
  };
}

/**
 * The whole environment Hoist would give kv's scripts for an instance under `root`, for running
 * them directly: PATH (node's dir first), KV_PORT, HOIST_DATA_DIR, KV_RUN_DIR, KV_NODE, KV_SHARED_DB.
 */
export function sampleServiceEnv(options: SampleServiceOptions): Record<string, string> {
  const config = sampleServiceConfig(options);
  return { PATH: samplePath(), ...config.env, HOIST_DATA_DIR: join(options.root, "data") };
}

/** PATH with the running node's dir first, then the system dirs (sh, setsid, sed). */
export function samplePath(): string {
  return [dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":");
}

/** Extracts the tarball of `version` into `dir` (created) and returns `dir`. */
export async function extractSampleRelease(version: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await tar.x({ file: sampleTarballPath(version), cwd: dir });
  return dir;
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a release script (argv[0] relative to `releaseDir`) without a shell, with exactly `env`,
 * and resolves once it exited and closed its stdout/stderr. Rejects when that takes longer than
 * `timeoutMs` (default 30 s), naming whether the pipes were still held open.
 */
export function runReleaseScript(releaseDir: string, argv: string[], env: Record<string, string>, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ScriptResult> {
  const [program, ...args] = argv;
  if (!program) throw new Error("runReleaseScript needs a program");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const budget = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])]);
  return new Promise((resolve, reject) => {
    const child = spawn(program.startsWith("/") ? program : join(releaseDir, program), args, { cwd: releaseDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let exited = false;
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", () => (exited = true));
    const onAbort = () => {
      if (!exited) child.kill("SIGKILL");
      child.stdout.destroy();
      child.stderr.destroy();
      const state = exited ? "exited, but a child it started kept its stdout/stderr open" : "did not exit";
      const why = options.signal?.aborted ? "before it was cancelled" : `within ${timeoutMs} ms`;
      reject(new Error(`${argv.join(" ")} ${state} ${why}; stdout: ${stdout.trim()} stderr: ${stderr.trim()}`));
    };
    budget.addEventListener("abort", onAbort, { once: true });
    child.once("error", (err) => {
      budget.removeEventListener("abort", onAbort);
      reject(err);
    });
    child.once("close", (code, signal) => {
      budget.removeEventListener("abort", onAbort);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The pid in `runDir`/kv.pid, or undefined. */
export async function readSamplePid(runDir: string): Promise<number | undefined> {
  const text = await readFile(join(runDir, "kv.pid"), "utf8").catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether `pid` is a live kv server (not a zombie, not a reused pid of another program). */
export async function isSampleServerAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat !== undefined && /\) Z /.test(stat)) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  return cmdline === undefined || cmdline.includes("server.mjs");
}

/** SIGKILLs a kv server left running (test cleanup) and waits until it is gone. */
export async function killSampleServer(pid: number): Promise<void> {
  if (!(await isSampleServerAlive(pid))) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  await waitFor(async () => !(await isSampleServerAlive(pid)), { what: `kv pid ${pid} to die`, timeoutMs: 10_000 });
}

export { freePort };
