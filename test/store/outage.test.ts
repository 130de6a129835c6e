// Redis goes away and comes back empty: the server neither crashes nor loses a record.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, test } from "node:test";
import { systemClock } from "../../server/clock.ts";
import { silentLogger } from "../../server/log.ts";
import { QueueingStore, type ReconcileSummary } from "../../server/store/resilient.ts";
import { byCreation, StoreUnavailable } from "../../server/store/store.ts";
import { startRedisServer } from "../helpers/redis-server.ts";
import { openRedisStore } from "../helpers/redis-store.ts";
import { newRecord } from "./contract.ts";

const redis = await startRedisServer();
const unhandled: unknown[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

const POD = "pod-a";
const RETENTION_MS = 60_000;

test("during a Redis outage reads fail fast and writes wait; a Redis restarted empty gets every record back", async () => {
  const inner = await openRedisStore(redis.url, "wasm-repl:", systemClock, { connectTimeoutMs: 500, commandTimeoutMs: 500, reconnectMaxDelayMs: 100 });
  const store = new QueueingStore(inner, { clock: systemClock, log: silentLogger, rememberMs: RETENTION_MS, retryMinMs: 50, retryMaxMs: 200 });
  after(() => store.close());

  // Written before the outage.
  const active = newRecord({ pod: POD });
  const quiet = newRecord({ state: "hibernated", pod: null, podAddress: null, snapshotKey: "snap-quiet", snapshotBytes: 4096 });
  const untouched = newRecord({ pod: POD, tenant: active.tenant });
  const idle = newRecord({ pod: POD });
  const closed = newRecord({ pod: POD });
  for (const record of [active, quiet, untouched, idle, closed]) assert.equal(await store.create(record), true);
  const closedEnded = await store.end(closed.id, "evicted", "closed", RETENTION_MS);
  await store.heartbeat(POD, "10.0.0.1:8000", 15_000);

  await redis.stop();

  for (const [name, read] of Object.entries({
    get: () => store.get(active.id),
    create: () => store.create(newRecord()),
    listByTenant: () => store.listByTenant(active.tenant),
  })) {
    const started = performance.now();
    await assert.rejects(read(), (error: unknown) => error instanceof StoreUnavailable && error.message.includes(`127.0.0.1:${redis.port}`), name);
    assert.ok(performance.now() - started < 1000, `${name} failed fast`);
  }

  // Written during the outage: answered now, saved later.
  const activeLatest = await store.update(active.id, { cellCount: 3, lastActiveAt: active.lastActiveAt + 1000 });
  const quietClaimed = await store.update(quiet.id, { pod: POD, podAddress: "10.0.0.1:8000", state: "live" }, { pod: null, states: ["hibernated"] });
  const idleEnded = await store.end(idle.id, "evicted", "idle", RETENTION_MS, { states: ["live"] });
  await store.heartbeat(POD, "10.0.0.1:8000", 15_000);
  assert.equal(quietClaimed?.state, "live");
  assert.equal(idleEnded?.state, "evicted");
  assert.equal(store.pendingWrites, 4);
  assert.equal(store.available, false);

  const reconciled = once(store, "reconciled", { signal: AbortSignal.timeout(5000) });
  await redis.start();
  const [summary] = (await reconciled) as [ReconcileSummary];

  assert.equal(store.available, true);
  assert.equal(store.pendingWrites, 0);
  assert.equal(summary.restored, 5, "all five records were put back into the empty Redis");
  assert.equal(summary.dropped, 0);
  assert.deepEqual(await store.get(active.id), activeLatest);
  assert.deepEqual(await store.get(quiet.id), quietClaimed);
  assert.deepEqual(await store.get(untouched.id), untouched);
  assert.deepEqual(await store.get(idle.id), idleEnded);
  assert.deepEqual(await store.get(closed.id), closedEnded);
  assert.deepEqual(await store.listByTenant(active.tenant), [activeLatest!, untouched].sort(byCreation));
  assert.equal(await store.isPodAlive(POD), true);
  assert.deepEqual(unhandled, []);
});
