import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { startNatsServer, type NatsServerHandle } from "./helpers/nats-server.ts";
import { openBuckets, type HoistBuckets } from "../shared/bus/index.ts";
import { ClusterLease } from "../coordinator/rollout/lease.ts";

describe("ClusterLease on a real nats-server", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let buckets: HoistBuckets;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    buckets = await openBuckets(nc);
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  it("renewals made at the same moment (timer and several step results saved together) all succeed and keep the lease", async () => {
    const lease = new ClusterLease(buckets.rollouts, "concurrent", "coordinator-a");
    await lease.acquire();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => lease.renew()));
    expect(results.filter((result) => result.status === "rejected")).toEqual([]);
    expect(await lease.holder()).toMatchObject({ owner: "coordinator-a", epoch: 1 });
    await lease.release();
    expect(await lease.holder()).toBeUndefined();
  });

  it("a coordinator fenced out by a takeover gets LEASE_LOST on its next renewal", async () => {
    const old = new ClusterLease(buckets.rollouts, "fenced", "coordinator-a", 300);
    await old.acquire();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const successor = new ClusterLease(buckets.rollouts, "fenced", "coordinator-b");
    await successor.acquire();
    await expect(old.renew()).rejects.toMatchObject({ code: "LEASE_LOST" });
    expect(await successor.holder()).toMatchObject({ owner: "coordinator-b", epoch: 2 });
  });

  it("waitUntilFree waits out the lease a dead coordinator left behind, and refuses one a live coordinator keeps renewing", async () => {
    const dead = new ClusterLease(buckets.rollouts, "left-behind", "coordinator-a", 1000);
    await dead.acquire();
    const waiter = new ClusterLease(buckets.rollouts, "left-behind", "coordinator-b");
    const seen: string[] = [];
    await waiter.waitUntilFree({ onWait: (holder) => seen.push(holder.owner) });
    expect(seen).toEqual(["coordinator-a"]);
    await waiter.acquire();
    expect(await waiter.holder()).toMatchObject({ owner: "coordinator-b", epoch: 2 });

    const live = new ClusterLease(buckets.rollouts, "alive", "coordinator-a", 1000);
    await live.acquire();
    const renewing = setInterval(() => void live.renew().catch(() => undefined), 200);
    try {
      const other = new ClusterLease(buckets.rollouts, "alive", "coordinator-b");
      await expect(other.waitUntilFree()).rejects.toMatchObject({ code: "LEASE_LOST", message: expect.stringContaining("coordinator-a") });
    } finally {
      clearInterval(renewing);
    }
  });
});
