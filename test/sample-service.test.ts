import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import * as tar from "tar";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { serviceSchema } from "../agent/config.ts";
import { loadCatalog, planUpgradePath, serviceCatalog } from "../shared/catalog/index.ts";
import { buildSampleReleases } from "../scripts/make-sample-releases.ts";
import {
  SAMPLE_VERSIONS,
  ensureSampleReleases,
  extractSampleRelease,
  freePort,
  isSampleServerAlive,
  killSampleServer,
  kvClient,
  readSamplePid,
  runReleaseScript,
  sampleCatalogPath,
  sampleServiceConfig,
  sampleServiceEnv,
  sampleTarballPath,
  type KvClient,
  type ScriptResult,
} from "./helpers/sample-service.ts";
import { makeTempDir } from "./helpers/temp-dir.ts";
import { waitFor } from "./helpers/wait-for.ts";

/** Every kv server a test started; killed after each test even when it failed. */
const started = new Set<number>();

afterEach(async () => {
  const pids = [...started];
  started.clear();
  await Promise.all(pids.map((pid) => killSampleServer(pid)));
});

beforeAll(async () => {
  await ensureSampleReleases();
});

/** One kv instance laid out as Hoist lays it out: install/releases/V, install/current, data/, run/. */
interface Instance {
  root: string;
  port: number;
  env: Record<string, string>;
  dataDir: string;
  runDir: string;
  logFile: string;
  current: string;
  client: KvClient;
}

async function makeInstance(options: { node?: string; sharedDb?: string } = {}): Promise<Instance> {
  const root = await makeTempDir("hoist-kv-");
  const port = await freePort();
  return {
    root,
    port,
    env: sampleServiceEnv({ root, port, ...options }),
    dataDir: join(root, "data"),
    runDir: join(root, "run"),
    logFile: join(root, "run", "kv.log"),
    current: join(root, "install", "current"),
    client: kvClient(port),
  };
}

/** Extracts `version` into install/releases/VERSION and points install/current at it. */
async function install(instance: Instance, version: string): Promise<string> {
  const releaseDir = await extractSampleRelease(version, join(instance.root, "install", "releases", version));
  await rm(instance.current, { force: true });
  await symlink(releaseDir, instance.current);
  return releaseDir;
}

async function run(instance: Instance, argv: string[], extraEnv: Record<string, string> = {}): Promise<ScriptResult> {
  return runReleaseScript(instance.current, argv, { ...instance.env, ...extraEnv });
}

/** bin/start through `current`; remembers the pid for cleanup. */
async function start(instance: Instance): Promise<ScriptResult> {
  const result = await run(instance, ["bin/start"]);
  const pid = await readSamplePid(instance.runDir);
  if (pid !== undefined) started.add(pid);
  return result;
}

async function startHealthy(instance: Instance): Promise<number> {
  const result = await start(instance);
  expect(result.code, result.stderr).toBe(0);
  await waitFor(async () => (await instance.client.healthz()).status === 200, { what: `kv healthy on port ${instance.port}` });
  return (await readSamplePid(instance.runDir))!;
}

async function stop(instance: Instance): Promise<ScriptResult> {
  const result = await run(instance, ["bin/stop"]);
  expect(result.code, result.stderr).toBe(0);
  return result;
}

async function readLog(instance: Instance): Promise<string> {
  return readFile(instance.logFile, "utf8").catch(() => "");
}

async function waitForLog(instance: Instance, pattern: RegExp): Promise<string> {
  return waitFor(
    async () => {
      const log = await readLog(instance);
      return pattern.test(log) ? log : undefined;
    },
    { what: `${pattern} in ${instance.logFile}` },
  );
}

/** Starts `current` on data it must refuse, and checks that it logs why and exits. */
async function expectRefusal(instance: Instance, message: string): Promise<void> {
  const result = await start(instance);
  expect(result.code).toBe(0);
  await waitForLog(instance, new RegExp(`FATAL: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  const pid = (await readSamplePid(instance.runDir))!;
  await waitFor(async () => !(await isSampleServerAlive(pid)), { what: `refusing kv (pid ${pid}) to exit` });
  await expect(instance.client.healthz()).rejects.toThrow();
}

function migrationEnv(instance: Instance, from: string, to: string): Record<string, string> {
  return { HOIST_FROM_VERSION: from, HOIST_TO_VERSION: to, HOIST_RELEASE_DIR: join(instance.root, "install", "releases", to) };
}

async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, "utf8"));
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

describe("built sample releases", () => {
  it("catalog lists the six releases oldest first, with the real tarballs' sha256 and size, and plans 1.0.0 -> 2.0.0", async () => {
    const catalog = serviceCatalog(await loadCatalog(sampleCatalogPath()), "kv");
    expect(catalog.releases.map((release) => release.version)).toEqual(["1.0.0", "1.1.0", "1.1.1", "1.2.0", "1.3.0", "2.0.0"]);
    for (const release of catalog.releases) {
      expect(release.artifact.url).toBe(sampleTarballPath(release.version));
      expect(release.artifact.sha256).toBe(await sha256(release.artifact.url));
      expect(release.artifact.size).toBe((await readFile(release.artifact.url)).length);
    }
    const byVersion = new Map(catalog.releases.map((release) => [release.version, release]));
    expect(byVersion.get("1.1.0")!.migrations).toEqual([
      expect.objectContaining({ name: "store-schema-2", run: ["upgrade/1.0.0-to-1.1.0.mjs"], scope: "node" }),
      expect.objectContaining({ name: "shared-db-1.1.0", run: ["upgrade/shared-db-1.1.0.mjs"], scope: "cluster-once" }),
    ]);
    expect(byVersion.get("1.1.1")).toMatchObject({ minor: true, migrations: [] });
    expect(byVersion.get("2.0.0")).toMatchObject({ rolling: false, upgradeFrom: ["1.1.1"], fullStopReason: expect.stringContaining("on-disk format") });
    expect(planUpgradePath(catalog, "1.0.0", "2.0.0").map((hop) => hop.to)).toEqual(["1.1.0", "1.1.1", "2.0.0"]);
    expect(planUpgradePath(catalog, "1.1.1", "1.3.0").map((hop) => hop.to)).toEqual(["1.3.0"]);
  });

  it("tarball root is the release root: VERSION at the top, scripts 0755, only the release's own migrations", async () => {
    const list = async (version: string) => {
      const entries = new Map<string, number>();
      await tar.t({ file: sampleTarballPath(version), onReadEntry: (entry) => entries.set(entry.path, entry.mode ?? 0) });
      return entries;
    };
    const v110 = await list("1.1.0");
    expect(v110.has("VERSION")).toBe(true);
    expect(v110.has("server.mjs")).toBe(true);
    expect(v110.get("config/service.conf")).toBe(0o644);
    for (const script of ["bin/start", "bin/stop", "bin/leave", "bin/join", "upgrade/1.0.0-to-1.1.0.mjs", "upgrade/shared-db-1.1.0.mjs"]) {
      expect(v110.get(script), script).toBe(0o755);
    }
    const v100 = await list("1.0.0");
    expect([...v100.keys()].filter((path) => path.startsWith("upgrade/") && path !== "upgrade/")).toEqual([]);
    for (const version of SAMPLE_VERSIONS) {
      const dir = await extractSampleRelease(version, await makeTempDir("hoist-kv-extract-"));
      expect((await readFile(join(dir, "VERSION"), "utf8")).trim()).toBe(version);
    }
  });

  it("rebuilding unchanged sources gives byte-identical tarballs, and a second run skips the build", async () => {
    const [a, b] = [await makeTempDir("hoist-kv-build-"), await makeTempDir("hoist-kv-build-")];
    const first = await buildSampleReleases({ outDir: a, force: true });
    const second = await buildSampleReleases({ outDir: b, force: true });
    expect(first.built && second.built).toBe(true);
    expect(second.artifacts.map((artifact) => artifact.sha256)).toEqual(first.artifacts.map((artifact) => artifact.sha256));
    expect(await readFile(second.catalogPath, "utf8")).toBe(await readFile(first.catalogPath, "utf8"));
    const again = await buildSampleReleases({ outDir: a });
    expect(again.built).toBe(false);
    expect(again.artifacts).toEqual(first.artifacts);
  });
});

describe("sampleServiceConfig", () => {
  it("is a valid services: entry of the agent config, with the hooks, env and probes of the instance", () => {
    const service = serviceSchema.parse(sampleServiceConfig({ root: "/srv/kv-a", port: 4321, node: "a", sharedDb: "/srv/shared.db" }));
    expect(service).toMatchObject({
      name: "kv",
      installRoot: "/srv/kv-a/install",
      dataDirs: ["/srv/kv-a/data"],
      preserve: ["config/service.conf"],
      env: { KV_PORT: "4321", KV_RUN_DIR: "/srv/kv-a/run", KV_NODE: "a", KV_SHARED_DB: "/srv/shared.db" },
      hooks: { start: { run: ["bin/start"] }, stop: { run: ["bin/stop"] }, drain: { run: ["bin/leave"] }, rejoin: { run: ["bin/join"] } },
      health: { minHealthyMs: 500, healthyDeadlineMs: 10_000, intervalMs: 100 },
    });
    expect(service.health.probes).toEqual([expect.objectContaining({ type: "http", url: "http://127.0.0.1:4321/healthz" }), { type: "log", file: "/srv/kv-a/run/kv.log", failPattern: "FATAL" }]);
    expect("KV_SHARED_DB" in sampleServiceConfig({ root: "/srv/kv-b", port: 4322 }).env!).toBe(false);
  });
});

describe("kv process lifecycle", () => {
  it("bin/start detaches into its own session in the real release dir; put/get/delete persist schema 1; a second start is refused; bin/stop stops it", async () => {
    const kv = await makeInstance({ node: "alpha" });
    const releaseDir = await install(kv, "1.0.0");
    await writeFile(join(releaseDir, "config", "service.conf"), "# edited by the operator\ngreeting=hi there\n");

    const pid = await startHealthy(kv);
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // After "comm) ": state ppid pgrp session ...
    const sessionId = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    expect(sessionId).toBe(pid);
    expect(await readlink(`/proc/${pid}/cwd`)).toBe(await realpath(releaseDir));
    const log = await waitForLog(kv, /ready on/);
    expect(log).toContain("starting kv 1.0.0\n");
    expect(log).toContain(`ready on 127.0.0.1:${kv.port}\n`);

    expect(await kv.client.version()).toEqual({ version: "1.0.0", schema: 1, greeting: "hi there", node: "alpha", pid });
    await kv.client.put("colour", "blue");
    await kv.client.put("a/b c", "spaced out");
    await kv.client.put("gone", "soon");
    expect(await kv.client.delete("gone")).toBe(true);
    expect(await kv.client.delete("gone")).toBe(false);
    expect(await kv.client.get("colour")).toBe("blue");
    expect(await kv.client.get("missing")).toBeUndefined();
    expect(await kv.client.all()).toEqual({ "a/b c": "spaced out", colour: "blue" });
    expect(await readJson(join(kv.dataDir, "store.json"))).toEqual({ schema: 1, items: { colour: "blue", "a/b c": "spaced out" } });

    const again = await start(kv);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`already running (pid ${pid}`);

    await stop(kv);
    expect(await isSampleServerAlive(pid)).toBe(false);
    expect(await readSamplePid(kv.runDir)).toBeUndefined();
    expect(await readLog(kv)).toContain("stopped cleanly");
    const twice = await stop(kv);
    expect(twice.stdout).toContain("not running");

    await startHealthy(kv);
    expect(await kv.client.all()).toEqual({ "a/b c": "spaced out", colour: "blue" });
    await stop(kv);
  });

  it("SIGTERM lets an in-flight PUT finish and persist before kv exits", async () => {
    const kv = await makeInstance();
    await install(kv, "1.1.0");
    await startHealthy(kv);

    let continued!: () => void;
    const headersParsed = new Promise<void>((resolve) => (continued = resolve));
    const response = new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: kv.port, method: "PUT", path: "/kv/inflight", agent: false, headers: { expect: "100-continue", "content-length": "11" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("continue", () => {
        continued();
        void waitForLog(kv, /stopping kv 1\.1\.0 \(SIGTERM\)/).then(() => req.end("still here!"), reject);
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    await headersParsed;
    const stopping = run(kv, ["bin/stop"]);
    expect(await response).toBe(204);
    expect((await stopping).code).toBe(0);
    expect(await readLog(kv)).toContain("stopped cleanly");

    const store = await readJson(join(kv.dataDir, "store.json"));
    expect(store.items.inflight.value).toBe("still here!");
  });

  it("bin/leave and bin/join change cluster membership while /healthz stays 200, and fail when kv is down", async () => {
    const kv = await makeInstance({ node: "beta" });
    await install(kv, "1.1.1");
    await startHealthy(kv);
    expect(await kv.client.cluster()).toEqual({ member: true, node: "beta", version: "1.1.1" });

    expect((await run(kv, ["bin/leave"])).code).toBe(0);
    expect((await kv.client.cluster()).member).toBe(false);
    expect((await kv.client.healthz()).status).toBe(200);
    expect((await run(kv, ["bin/join"])).code).toBe(0);
    expect((await kv.client.cluster()).member).toBe(true);

    await stop(kv);
    const leave = await run(kv, ["bin/leave"]);
    expect(leave.code).not.toBe(0);
    expect(leave.stderr).toContain("not reachable");
    expect((await run(kv, ["bin/join"])).code).not.toBe(0);
  });

  it("bin/start ignores a stale pid file and refuses to run without KV_PORT", async () => {
    const kv = await makeInstance();
    await install(kv, "1.0.0");
    const missing = await run(kv, ["bin/start"], { KV_PORT: "" });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("KV_PORT is not set");

    // The pid of a process that has exited, as a crash would leave it.
    const gone = Number((await runReleaseScript(kv.current, ["/bin/sh", "-c", "echo $$"], kv.env)).stdout.trim());
    await mkdir(kv.runDir, { recursive: true });
    await writeFile(join(kv.runDir, "kv.pid"), `${gone}\n`);
    const pid = await startHealthy(kv);
    expect(pid).not.toBe(gone);
    await stop(kv);
  });
});

describe("data schemas and migrations", () => {
  it("1.0.0 -> 1.1.0: 1.1.0 refuses schema 1 data; the migration converts it to schema 2, a rerun changes nothing, and 1.1.0 serves the old values", async () => {
    const kv = await makeInstance();
    await install(kv, "1.0.0");
    await startHealthy(kv);
    await kv.client.put("a", "1");
    await kv.client.put("b", "2");
    await stop(kv);

    await install(kv, "1.1.0");
    await expectRefusal(kv, "data schema 1 is not supported by kv 1.1.0");

    const env = migrationEnv(kv, "1.0.0", "1.1.0");
    const migrated = await run(kv, ["upgrade/1.0.0-to-1.1.0.mjs"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const store = await readJson(join(kv.dataDir, "store.json"));
    expect(store.schema).toBe(2);
    expect(store.items.a).toEqual({ value: "1", updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(store.items.b.value).toBe("2");

    const bytes = await readFile(join(kv.dataDir, "store.json"), "utf8");
    const rerun = await run(kv, ["upgrade/1.0.0-to-1.1.0.mjs"], env);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain("already schema 2");
    expect(await readFile(join(kv.dataDir, "store.json"), "utf8")).toBe(bytes);

    await startHealthy(kv);
    expect(await kv.client.all()).toEqual({ a: "1", b: "2" });
    expect((await kv.client.version()).schema).toBe(2);
    await stop(kv);
  });

  it("shared-db-1.1.0 appends one line per run naming the node, and does nothing without KV_SHARED_DB", async () => {
    const sharedDb = join(await makeTempDir("hoist-kv-shared-"), "cluster.db");
    const kv = await makeInstance({ node: "gamma", sharedDb });
    await install(kv, "1.1.0");
    const first = await run(kv, ["upgrade/shared-db-1.1.0.mjs"], migrationEnv(kv, "1.0.0", "1.1.0"));
    expect(first.code, first.stderr).toBe(0);
    const lines = (await readFile(sharedDb, "utf8")).trim().split("\n");
    expect(lines).toEqual([expect.stringMatching(/^1\.1\.0 migrated by gamma at \d{4}-\d\d-\d\dT.*Z$/)]);

    const unset = await makeInstance({ node: "delta" });
    await install(unset, "1.1.0");
    const skipped = await run(unset, ["upgrade/shared-db-1.1.0.mjs"]);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain("KV_SHARED_DB is not set");
    expect((await readFile(sharedDb, "utf8")).trim().split("\n")).toHaveLength(1);
  });

  it("1.1.1 -> 2.0.0: 2.0.0 refuses schema 2; the migration writes items/ and FORMAT, keys with unsafe characters survive, and 1.1.1 refuses schema 3", async () => {
    const kv = await makeInstance();
    await install(kv, "1.1.1");
    await startHealthy(kv);
    const values = { plain: "p", "a/b": "slash", "../up": "dots", ".hidden": "dot", "ünï cödé": "utf8", "%41": "percent" };
    for (const [key, value] of Object.entries(values)) await kv.client.put(key, value);
    await stop(kv);

    await install(kv, "2.0.0");
    await expectRefusal(kv, "data schema 2 is not supported by kv 2.0.0");

    const env = migrationEnv(kv, "1.1.1", "2.0.0");
    const migrated = await run(kv, ["upgrade/1.1.1-to-2.0.0.mjs"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((await readFile(join(kv.dataDir, "FORMAT"), "utf8")).trim()).toBe("3");
    expect((await readdir(kv.dataDir)).sort()).toEqual(["FORMAT", "items"]);
    const names = await readdir(join(kv.dataDir, "items"));
    expect(names).toHaveLength(Object.keys(values).length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_%-]+$/);
    expect((await run(kv, ["upgrade/1.1.1-to-2.0.0.mjs"], env)).stdout).toContain("already schema 3");

    await startHealthy(kv);
    expect(await kv.client.all()).toEqual(values);
    expect(await kv.client.version()).toMatchObject({ version: "2.0.0", schema: 3 });
    await kv.client.put("new in 2.0.0", "yes");
    await stop(kv);
    expect(await readdir(join(kv.dataDir, "items"))).toHaveLength(Object.keys(values).length + 1);

    await install(kv, "1.1.1");
    await expectRefusal(kv, "data schema 3 is not supported by kv 1.1.1");
  });

  it("a fresh 2.0.0 initialises an empty data dir with schema 3", async () => {
    const kv = await makeInstance();
    await install(kv, "2.0.0");
    await startHealthy(kv);
    await kv.client.put("k", "v");
    expect(await kv.client.get("k")).toBe("v");
    await stop(kv);
    expect((await readFile(join(kv.dataDir, "FORMAT"), "utf8")).trim()).toBe("3");
    expect(await readdir(join(kv.dataDir, "items"))).toEqual(["k"]);
  });
});

describe("broken releases", () => {
  it("1.2.0 logs ready, then FATAL, and /healthz turns 500 while the process stays up for bin/stop", async () => {
    const kv = await makeInstance();
    await install(kv, "1.2.0");
    const result = await start(kv);
    expect(result.code).toBe(0);
    const log = await waitForLog(kv, /FATAL: simulated crash after start/);
    expect(log.indexOf(`ready on 127.0.0.1:${kv.port}`)).toBeGreaterThan(-1);
    expect(log.indexOf("FATAL")).toBeGreaterThan(log.indexOf("ready on"));
    expect(await kv.client.healthz()).toEqual({ status: 500, body: "FATAL: simulated crash after start\n" });
    const pid = (await readSamplePid(kv.runDir))!;
    expect(await isSampleServerAlive(pid)).toBe(true);
    await stop(kv);
    expect(await isSampleServerAlive(pid)).toBe(false);
  });

  it("1.3.0's migration changes half the data, leaves partial.tmp and exits 1", async () => {
    const kv = await makeInstance();
    await install(kv, "1.1.1");
    await startHealthy(kv);
    for (const key of ["k1", "k2", "k3", "k4"]) await kv.client.put(key, `value of ${key}`);
    await stop(kv);
    const before = await readJson(join(kv.dataDir, "store.json"));

    await install(kv, "1.3.0");
    const result = await run(kv, ["upgrade/1.1.1-to-1.3.0.mjs"], migrationEnv(kv, "1.1.1", "1.3.0"));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("simulated failure");
    const after = await readJson(join(kv.dataDir, "store.json"));
    const changed = Object.keys(before.items).filter((key) => after.items[key].value !== before.items[key].value);
    expect(changed).toEqual(["k1", "k2"]);
    expect((await readdir(kv.dataDir)).sort()).toEqual(["partial.tmp", "store.json"]);
  });
});
