// The behaviour every SessionStore and SnapshotStore promises, written once and run against each
// implementation. Call inside a `describe`.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { RecordChanges, SessionRecord, SessionStore, SnapshotStore } from "../../server/store/store.ts";

export interface SessionStoreHarness {
  store: SessionStore;
  /** Lets time pass for the store's expiries: moves a test clock, or waits. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface SnapshotStoreHarness {
  snapshots: SnapshotStore;
  close(): Promise<void>;
}

/** Short enough for a store on the real clock to wait out. */
const RETENTION_MS = 300;
const HEARTBEAT_TTL_MS = 400;
/** Beyond an expiry: Redis's expiry is exact to the millisecond, but its clock is not ours. */
const PAST_EXPIRY_MS = 100;

/** A name no other test uses, so tests sharing a store do not see each other's records. */
function unique(kind: string): string {
  return `${kind}-${randomUUID().slice(0, 8)}`;
}

export function newRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    id: unique("session"),
    tenant: unique("tenant"),
    user: "alice",
    pod: unique("pod"),
    podAddress: "10.0.0.7:8000",
    state: "live",
    createdAt: now,
    lastActiveAt: now,
    cellCount: 0,
    snapshotKey: null,
    snapshotBytes: 0,
    checkpointCount: null,
    endedReason: null,
    endedAt: null,
    env: {},
    rlmCallText: false,
    ...overrides,
  };
}

export function sessionStoreContract(open: () => Promise<SessionStoreHarness>): void {
  let harness: SessionStoreHarness;
  let store: SessionStore;
  before(async () => {
    harness = await open();
    store = harness.store;
  });
  after(() => harness.close());

  test("creates a record once and reads it back as written", async () => {
    const record = newRecord({ snapshotKey: "snap-1", snapshotBytes: 12_345_678_901, endedReason: null, env: { API_KEY: "k=v; \"quoted\"", EMPTY: "" }, rlmCallText: true });
    assert.equal(await store.create(record), true);
    assert.deepEqual(await store.get(record.id), record);
    assert.equal(await store.create({ ...record, user: "mallory" }), false);
    assert.equal((await store.get(record.id))?.user, "alice");
    assert.equal(await store.get(unique("missing")), null);
  });

  test("update applies the changes, answers the new record, and leaves identity fields alone", async () => {
    const record = newRecord({ snapshotKey: "snap-1", snapshotBytes: 10 });
    await store.create(record);
    const changes = { cellCount: 3, lastActiveAt: record.lastActiveAt + 5000, snapshotKey: null, snapshotBytes: 0, tenant: "elsewhere" } as RecordChanges;
    const updated = await store.update(record.id, changes);
    const expected = { ...record, cellCount: 3, lastActiveAt: record.lastActiveAt + 5000, snapshotKey: null, snapshotBytes: 0 };
    assert.deepEqual(updated, expected);
    assert.deepEqual(await store.get(record.id), expected);
    assert.equal(await store.update(unique("missing"), { cellCount: 1 }), null);
  });

  test("a compare-and-set whose expectation does not hold changes nothing", async () => {
    const record = newRecord({ state: "live" });
    await store.create(record);
    assert.equal(await store.update(record.id, { cellCount: 9 }, { states: ["hibernated"] }), null);
    assert.equal(await store.update(record.id, { cellCount: 9 }, { pod: "another-pod" }), null);
    assert.equal(await store.update(record.id, { cellCount: 9 }, { pod: null }), null);
    assert.equal(await store.update(record.id, { cellCount: 9 }, { states: [] }), null);
    assert.deepEqual(await store.get(record.id), record);
    const matched = await store.update(record.id, { cellCount: 9 }, { states: ["hibernated", "live"], pod: record.pod });
    assert.equal(matched?.cellCount, 9);
  });

  test("of 50 pods claiming a hibernated session at once, exactly one owns it", async () => {
    const record = newRecord({ state: "hibernated", pod: null, podAddress: null, snapshotKey: "snap" });
    await store.create(record);
    const claimers = Array.from({ length: 50 }, (_, index) => `claimer-${index}-${record.id}`);
    const claims = await Promise.all(
      claimers.map((pod) => store.update(record.id, { pod, podAddress: `${pod}:8000`, state: "live" }, { pod: null, states: ["hibernated"] })),
    );
    const winners = claims.filter((claim) => claim !== null);
    assert.equal(winners.length, 1);
    const owner = winners[0]!.pod!;
    assert.deepEqual(await store.get(record.id), { ...record, pod: owner, podAddress: `${owner}:8000`, state: "live" });
  });

  test("ending frees a record from its pod, keeps it for its tenant, then lets it expire", async () => {
    const record = newRecord();
    await store.create(record);
    const ended = await store.end(record.id, "evicted", "idle", RETENTION_MS);
    assert.ok(ended);
    assert.equal(ended.state, "evicted");
    assert.equal(ended.endedReason, "idle");
    assert.equal(typeof ended.endedAt, "number");
    assert.equal(ended.pod, null);
    assert.equal(ended.podAddress, null);
    assert.deepEqual(await store.get(record.id), ended);
    assert.deepEqual(await store.listByTenant(record.tenant), [ended]);
    await harness.elapse(RETENTION_MS / 3);
    assert.deepEqual(await store.get(record.id), ended, "still retained before its retention passes");
    await harness.elapse(RETENTION_MS + PAST_EXPIRY_MS);
    assert.equal(await store.get(record.id), null);
    assert.deepEqual(await store.listByTenant(record.tenant), []);
  });

  test("end is a compare-and-set too", async () => {
    const record = newRecord();
    await store.create(record);
    assert.equal(await store.end(record.id, "lost", "pod_gone", RETENTION_MS, { pod: "another-pod" }), null);
    assert.equal((await store.get(record.id))?.state, "live");
    const lost = await store.end(record.id, "lost", "pod_gone", RETENTION_MS, { pod: record.pod, states: ["live"] });
    assert.equal(lost?.state, "lost");
    assert.equal(await store.end(unique("missing"), "evicted", "idle", RETENTION_MS), null);
  });

  test("a record brought back to a running state no longer expires", async () => {
    const record = newRecord();
    await store.create(record);
    await store.end(record.id, "evicted", "idle", RETENTION_MS);
    const revived = await store.update(record.id, { state: "hibernated", endedReason: null, endedAt: null });
    await harness.elapse(RETENTION_MS + PAST_EXPIRY_MS);
    assert.deepEqual(await store.get(record.id), revived);
  });

  test("a tenant's listing holds its records as they now are, oldest first", async () => {
    const tenant = unique("tenant");
    const [podA, podB] = [unique("pod"), unique("pod")];
    const first = newRecord({ tenant, pod: podA, createdAt: 1000 });
    const second = newRecord({ tenant, pod: podA, createdAt: 2000 });
    const elsewhere = newRecord({ pod: podB });
    for (const record of [second, first, elsewhere]) await store.create(record);
    assert.deepEqual(await store.listByTenant(tenant), [first, second]);
    const moved = await store.update(second.id, { pod: podB }, { pod: podA });
    const hibernated = await store.update(first.id, { pod: null, podAddress: null, state: "hibernated" });
    assert.deepEqual(await store.listByTenant(tenant), [hibernated, moved]);
    assert.deepEqual(await store.listByTenant(unique("tenant")), []);
  });

  test("a heartbeat keeps its pod alive until its TTL passes", async () => {
    const [pod, other] = [unique("pod"), unique("pod")];
    assert.equal(await store.isPodAlive(pod), false);
    await store.heartbeat(pod, "10.0.0.1:8000", HEARTBEAT_TTL_MS);
    await store.heartbeat(other, "10.0.0.2:8000", HEARTBEAT_TTL_MS * 10);
    assert.equal(await store.isPodAlive(pod), true);
    assert.equal(await store.isPodAlive(other), true);
    await harness.elapse(HEARTBEAT_TTL_MS / 2);
    await store.heartbeat(pod, "10.0.0.9:8000", HEARTBEAT_TTL_MS);
    await harness.elapse(HEARTBEAT_TTL_MS / 2 + PAST_EXPIRY_MS / 2);
    assert.equal(await store.isPodAlive(pod), true, "the second heartbeat renewed the TTL");
    await harness.elapse(HEARTBEAT_TTL_MS + PAST_EXPIRY_MS);
    assert.equal(await store.isPodAlive(pod), false);
    assert.equal(await store.isPodAlive(other), true, "each pod's heartbeat expires on its own");
  });

  test("restore puts back a record exactly as given, with what remains of its retention", async () => {
    const running = newRecord({ state: "hibernated", pod: null, cellCount: 7 });
    const ended = newRecord({ state: "evicted", pod: null, podAddress: null, endedReason: "idle", endedAt: Date.now() });
    assert.equal(await store.restore(running, null), true);
    assert.equal(await store.restore(ended, RETENTION_MS), true);
    assert.equal(await store.restore({ ...running, cellCount: 0 }, null), false);
    assert.deepEqual(await store.get(running.id), running);
    assert.deepEqual(await store.listByTenant(ended.tenant), [ended]);
    await harness.elapse(RETENTION_MS + PAST_EXPIRY_MS);
    assert.equal(await store.get(ended.id), null);
    assert.deepEqual(await store.get(running.id), running);
  });

  test("records handed out are copies", async () => {
    const record = newRecord();
    await store.create(record);
    record.cellCount = 99;
    const read = await store.get(record.id);
    assert.equal(read?.cellCount, 0);
    read!.state = "lost";
    assert.equal((await store.get(record.id))?.state, "live");
  });
}

export function snapshotStoreContract(open: () => Promise<SnapshotStoreHarness>): void {
  let harness: SnapshotStoreHarness;
  before(async () => {
    harness = await open();
  });
  after(() => harness.close());

  test("snapshots come back byte for byte, and a missing one is null", async () => {
    const { snapshots } = harness;
    const cases = { empty: new Uint8Array(0), small: new Uint8Array([0, 1, 2, 255]), large: new Uint8Array(randomBytes(3 * 1024 * 1024)) };
    for (const [name, bytes] of Object.entries(cases)) {
      const key = unique(`snapshot-${name}`);
      await snapshots.put(key, bytes);
      assert.deepEqual(new Uint8Array((await snapshots.get(key))!), bytes, name);
    }
    assert.equal(await snapshots.get(unique("missing")), null);
  });

  test("a put replaces the snapshot, and delete removes it (deleting a missing one is fine)", async () => {
    const { snapshots } = harness;
    const key = unique("snapshot");
    await snapshots.put(key, new Uint8Array([1, 2, 3]));
    // A view into a larger buffer: only the view's bytes are stored.
    await snapshots.put(key, new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 3));
    assert.deepEqual(new Uint8Array((await snapshots.get(key))!), new Uint8Array([8, 7]));
    await snapshots.delete(key);
    assert.equal(await snapshots.get(key), null);
    await snapshots.delete(key);
  });
}
