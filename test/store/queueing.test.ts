import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test, type TestContext } from "node:test";
import { createLogger, silentLogger } from "../../server/log.ts";
import { MemoryStore } from "../../server/store/memory.ts";
import { QueueingStore, type ReconcileSummary } from "../../server/store/resilient.ts";
import { StoreUnavailable, type SessionStore } from "../../server/store/store.ts";
import { newRecord, sessionStoreContract } from "./contract.ts";
import { ManualClock } from "./manual-clock.ts";

describe("QueueingStore over a store that answers", () => {
  sessionStoreContract(async () => {
    const clock = new ManualClock();
    const store = new QueueingStore(new MemoryStore(clock), { clock, log: silentLogger, rememberMs: 60_000 });
    return { store, elapse: async (ms) => clock.advance(ms), close: () => store.close() };
  });
});

/** A MemoryStore that can be taken away (every call but close fails with StoreUnavailable) and brought back, possibly empty. */
class SwitchableStore {
  down = false;
  readonly store: SessionStore;

  constructor(public backing: MemoryStore) {
    this.store = new Proxy({} as SessionStore, {
      get: (_, method: keyof SessionStore) => (...args: unknown[]) =>
        this.down && method !== "close"
          ? Promise.reject(new StoreUnavailable("the test store is down"))
          : (this.backing[method] as (...args: unknown[]) => Promise<unknown>).apply(this.backing, args),
    });
  }
}

/** A QueueingStore over a SwitchableStore, closed when the test ends. */
function setUp(t: TestContext) {
  const clock = new ManualClock();
  const switchable = new SwitchableStore(new MemoryStore(clock));
  const events: Record<string, unknown>[] = [];
  const log = createLogger("debug", (line) => events.push(JSON.parse(line)));
  const store = new QueueingStore(switchable.store, { clock, log, rememberMs: 60_000, retryMinMs: 5, retryMaxMs: 20 });
  t.after(() => store.close());
  /** Brings the store back and waits for the queue to be reconciled. */
  const restore = async (): Promise<ReconcileSummary> => {
    const reconciled = once(store, "reconciled", { signal: AbortSignal.timeout(2000) });
    switchable.down = false;
    const [summary] = await reconciled;
    return summary;
  };
  return { clock, switchable, events, store, restore };
}

test("while the store is down, reads refuse at once and changes to known records are answered and queued", async (t) => {
  const { switchable, store, restore } = setUp(t);
  const active = newRecord();
  const idle = newRecord();
  await store.create(active);
  await store.create(idle);
  const outages: StoreUnavailable[] = [];
  store.on("unavailable", (error) => outages.push(error));
  switchable.down = true;

  await assert.rejects(store.get(active.id), StoreUnavailable);
  assert.equal(store.available, false);
  await assert.rejects(store.create(newRecord()), /the test store is down/);
  await assert.rejects(store.listByTenant(active.tenant), StoreUnavailable);

  assert.deepEqual(await store.update(active.id, { cellCount: 1 }), { ...active, cellCount: 1 });
  const latest = await store.update(active.id, { cellCount: 2, lastActiveAt: active.lastActiveAt + 10 });
  assert.deepEqual(latest, { ...active, cellCount: 2, lastActiveAt: active.lastActiveAt + 10 });
  assert.equal(store.pendingWrites, 1, "unconditional updates in a row are merged");
  assert.equal(await store.update(active.id, { state: "live" }, { states: ["hibernated"] }), null, "judged against the last known record");
  assert.equal(store.pendingWrites, 1, "a refused compare-and-set queues nothing");
  const ended = await store.end(idle.id, "evicted", "idle", 60_000, { states: ["live"] });
  assert.equal(ended?.state, "evicted");
  await store.heartbeat("pod-a", "10.0.0.1:8000", 15_000);
  await store.heartbeat("pod-a", "10.0.0.1:8000", 15_000);
  assert.equal(store.pendingWrites, 3);
  await assert.rejects(store.update("written-elsewhere", { cellCount: 1 }), /was not written by this server/);
  assert.equal(outages.length, 1, "one event per outage");

  const summary = await restore();
  assert.deepEqual({ ...summary, outageMs: 0 }, { replayed: 3, dropped: 0, restored: 0, outageMs: 0 });
  assert.equal(store.available, true);
  assert.equal(store.pendingWrites, 0);
  assert.deepEqual(await store.get(active.id), latest);
  assert.equal((await store.get(idle.id))?.state, "evicted");
  assert.equal(await store.isPodAlive("pod-a"), true);
});

test("a queued compare-and-set that no longer holds when replayed is dropped and logged", async (t) => {
  const { switchable, events, store, restore } = setUp(t);
  const quiet = newRecord({ state: "hibernated", pod: null, podAddress: null });
  await store.create(quiet);
  switchable.down = true;
  const claim = await store.update(quiet.id, { pod: "pod-a", state: "live" }, { pod: null, states: ["hibernated"] });
  assert.equal(claim?.pod, "pod-a", "answered from the last known record");
  // Meanwhile another pod, which can reach the store, takes the session.
  await switchable.backing.update(quiet.id, { pod: "pod-b", state: "live" });

  const summary = await restore();
  assert.equal(summary.dropped, 1);
  assert.equal((await store.get(quiet.id))?.pod, "pod-b", "the store wins");
  assert.ok(events.some((event) => event.event === "store_write_dropped" && event.session_id === quiet.id));
  switchable.down = true;
  await assert.rejects(store.update(quiet.id, { cellCount: 1 }), StoreUnavailable, "this server no longer knows the record's latest version");
});

test("records the store lost are put back as this server last wrote them, ended ones for what remains of their retention", async (t) => {
  const { clock, switchable, store, restore } = setUp(t);
  const active = newRecord();
  const quiet = newRecord({ state: "hibernated", pod: null });
  const closed = newRecord();
  for (const record of [active, quiet, closed]) await store.create(record);
  const ended = await store.end(closed.id, "evicted", "closed", 1000);
  switchable.down = true;
  const changed = await store.update(active.id, { cellCount: 5 });
  // The store comes back empty (a Redis restarted without persistence).
  switchable.backing = new MemoryStore(clock);

  const summary = await restore();
  assert.equal(summary.restored, 3);
  assert.deepEqual(await store.get(active.id), changed);
  assert.deepEqual(await store.get(quiet.id), quiet);
  assert.deepEqual(await store.get(closed.id), ended);
  clock.advance(1001);
  assert.equal(await store.get(closed.id), null, "the ended record expires when it would have");
  assert.deepEqual(await store.get(quiet.id), quiet);
});

test("close makes one last attempt, and gives up without throwing while the store is down", async (t) => {
  const { switchable, events, store } = setUp(t);
  const record = newRecord();
  await store.create(record);
  switchable.down = true;
  await store.update(record.id, { cellCount: 1 });
  await store.close();
  assert.ok(events.some((event) => event.event === "store_writes_unsaved" && event.writes === 1));
});
