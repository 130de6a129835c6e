// The registry driven directly, with a MemoryStore and a clock the test moves: who may find a
// session, what an ended one answers, eviction and hibernation by the clock, and two registries
// standing for two pods of one cluster, one taking over what the other let go of (or, having
// stalled, lost to the other).
import assert from "node:assert/strict";
import { test } from "node:test";
import { HeldElsewhere, SessionError } from "../../server/sessions/errors.ts";
import type { SessionEvent } from "../../server/sessions/events.ts";
import { SessionRegistry } from "../../server/sessions/registry.ts";
import { MemorySnapshotStore, MemoryStore } from "../../server/store/memory.ts";
import { identity, registryOptions } from "../helpers/registry.ts";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import { ManualClock } from "../store/manual-clock.ts";

const runtime = await startTestRuntime({ poolSize: 2 });

function cluster() {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const snapshots = new MemorySnapshotStore();
  const pod = (name: string, overrides: Parameters<typeof registryOptions>[1] = {}) =>
    new SessionRegistry(registryOptions({ runtime, store, clock, snapshots }, { pod: { name, address: `${name}:8000` }, ...overrides }));
  return { clock, store, snapshots, pod };
}

async function refusal(work: Promise<unknown>): Promise<SessionError> {
  const error = await work.then(() => null, (thrown: unknown) => thrown);
  assert.ok(error instanceof SessionError, `expected a SessionError, got ${String(error)}`);
  return error;
}

/** A session of `registry` that ran `n = 1`, then stayed quiet 2 s by the clock and was swept: checkpointed or hibernated, as its pod's settings say. */
async function quietSession(registry: SessionRegistry, clock: ManualClock, owner: ReturnType<typeof identity>) {
  const session = await registry.open(owner);
  assert.ok("result" in (await session.run("n = 1", undefined, {})));
  clock.advance(2000);
  await registry.sweep();
  return session;
}

test("a session is found by its owner and its tenant's admin; anyone else is told it does not exist", async () => {
  const { pod } = cluster();
  const registry = pod("pod-a");
  const alice = identity("acme", "alice", ["sessions:create", "sessions:execute", "sessions:read"]);
  const session = await registry.open(alice);
  assert.equal(await registry.find(session.id, alice), session);
  assert.equal(await registry.find(session.id, identity("acme", "root")), session, "tenant:admin sees the tenant's sessions");
  const bob = identity("acme", "bob", ["sessions:read"]);
  const stranger = identity("other", "alice");
  for (const caller of [bob, stranger]) assert.equal((await refusal(registry.find(session.id, caller))).code, "session_not_found");
  assert.deepEqual((await registry.list(alice)).map((summary) => summary.session_id), [session.id]);
  assert.deepEqual(await registry.list(stranger), []);
  await registry.shutdown();
});

test("an ended session answers session_expired, here and (through the store) on any other server", async () => {
  const { pod } = cluster();
  const [a, b] = [pod("pod-a"), pod("pod-b")];
  const alice = identity("acme");
  const session = await a.open(alice);
  await session.end("closed");
  assert.equal((await refusal(a.find(session.id, alice))).code, "session_expired");
  assert.match((await refusal(b.find(session.id, alice))).message, /ended \(closed\)/);
  await Promise.all([a.shutdown(), b.shutdown()]);
});

test("the clock drives eviction: an idle session ends at its idle timeout, and the store says so", async () => {
  const { clock, store, pod } = cluster();
  const registry = pod("pod-a", { idleTimeoutMs: 60_000 });
  const session = await registry.open(identity("acme"));
  clock.advance(59_000);
  await registry.sweep();
  assert.equal(session.endedBy, null);
  clock.advance(1000);
  await registry.sweep();
  assert.equal(session.endedBy, "idle");
  const record = await store.get(session.id);
  assert.equal(record?.state, "evicted");
  assert.equal(record?.endedReason, "idle");
  assert.equal(registry.size, 0);
  await registry.shutdown();
});

test("a quiet session hibernates by the clock and wakes with its variables on its next cell", async () => {
  const { clock, store, pod } = cluster();
  const registry = pod("pod-a", { hibernateAfterMs: 10_000 });
  const session = await registry.open(identity("acme"));
  assert.ok("result" in (await session.run("kept = 'still here'", undefined, {})));
  clock.advance(10_000);
  await registry.sweep();
  assert.equal(session.hibernated, true);
  const record = await store.get(session.id);
  assert.equal(record?.state, "hibernated");
  assert.notEqual(record?.snapshotKey, null);
  const woken = await session.run("kept", undefined, {});
  assert.ok("result" in woken && woken.result.value === "'still here'");
  assert.equal((await store.get(session.id))?.state, "live");
  await registry.shutdown();
});

test("a live session of a live pod is held elsewhere; once that pod drains, another takes it over with its state", async () => {
  const { store, pod } = cluster();
  const [a, b] = [pod("pod-a"), pod("pod-b")];
  const alice = identity("acme");
  const session = await a.open(alice);
  assert.ok("result" in (await session.run("n = 7", undefined, {})));
  const elsewhere = await b.find(session.id, alice).then(() => null, (error: unknown) => error);
  assert.ok(elsewhere instanceof HeldElsewhere && elsewhere.pod === "pod-a" && elsewhere.address === "pod-a:8000");
  assert.equal((await refusal(b.find(session.id, alice, true))).code, "busy", "a forwarded request is never forwarded again");
  await a.shutdown();
  assert.equal((await store.get(session.id))?.pod, null, "a drained pod lets go of its sessions in the store");
  const taken = await b.find(session.id, alice);
  assert.notEqual(taken, session);
  assert.equal((await store.get(session.id))?.pod, "pod-b");
  const outcome = await taken.run("n * 6", undefined, {});
  assert.ok("result" in outcome && outcome.result.value === "42");
  await b.shutdown();
});

test("a draining pod keeps its heartbeat until it has let go of its sessions: none is taken over meanwhile", async () => {
  const { clock, store, pod } = cluster();
  const [a, b] = [pod("pod-a", { heartbeatTtlMs: 600, drainTimeoutMs: 10_000 }), pod("pod-b")];
  const alice = identity("acme");
  const session = await a.open(alice);
  const running = session.run("import time\ntime.sleep(2)\n'done'", undefined, {});
  await new Promise((resolve) => setTimeout(resolve, 300)); // the cell runs
  const draining = a.shutdown();
  // Longer than the heartbeat's TTL, by the clock and for its timer.
  clock.advance(1000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await store.isPodAlive("pod-a"), true, "the draining pod still beats");
  const elsewhere = await b.find(session.id, alice).then(() => null, (error: unknown) => error);
  assert.ok(elsewhere instanceof HeldElsewhere, `the session is still pod-a's while it drains, not taken over: ${String(elsewhere)}`);
  const outcome = await running;
  assert.ok("result" in outcome && outcome.result.value === "'done'");
  await draining;
  assert.equal((await store.get(session.id))?.pod, null, "let go of once saved");
  await b.shutdown();
});

test("a pod that stopped answering past its heartbeat's TTL lets go of a session it finds taken over when it goes on", async () => {
  const { clock, store, pod } = cluster();
  // Its heartbeat timer fires every 20 s of real time, so not during the test: the clock says when it expires.
  const [a, b] = [pod("pod-a", { heartbeatTtlMs: 60_000, checkpointAfterMs: 1000 }), pod("pod-b")];
  const alice = identity("acme");
  const session = await quietSession(a, clock, alice);
  const checkpoint = (await store.get(session.id))?.snapshotKey;
  assert.ok(checkpoint, "checkpointed");
  clock.advance(61_000); // pod-a stalled: its heartbeat expired, and pod-b takes the session over
  const taken = await b.find(session.id, alice);
  assert.equal((await store.get(session.id))?.pod, "pod-b");
  // pod-a goes on: its copy is used, and its next sweep finds the record names pod-b.
  const events: SessionEvent[] = [];
  session.attach({ deliver: (event) => events.push(event) }, null);
  assert.ok("result" in (await session.run("n += 1", undefined, {})));
  await a.sweep();
  assert.equal(a.size, 0, "pod-a let go of its copy");
  assert.ok(events.some((event) => event.type === "evicted" && event.resumable === true), "its clients are told to follow the session");
  const record = await store.get(session.id);
  assert.equal(record?.pod, "pod-b", "the record stays pod-b's");
  assert.equal(record?.snapshotKey, checkpoint, "and so does the snapshot pod-b restored from");
  const outcome = await taken.run("n", undefined, {});
  assert.ok("result" in outcome && outcome.result.value === "1", "pod-b's session is the checkpoint's");
  await Promise.all([a.shutdown(), b.shutdown()]);
});

test("a hibernated session whose snapshot the store lost ends as lost at its next wake, instead of failing every cell", async () => {
  const { clock, store, snapshots, pod } = cluster();
  const registry = pod("pod-a", { hibernateAfterMs: 1000 });
  const alice = identity("acme");
  const session = await quietSession(registry, clock, alice);
  const record = await store.get(session.id);
  assert.equal(record?.state, "hibernated");
  await snapshots.delete(record!.snapshotKey!); // as a Redis restarted empty would
  const outcome = await session.run("n", undefined, {});
  assert.ok("error" in outcome && outcome.error.code === "sandbox_failed", "the cell that found it gone says why");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await store.get(session.id))?.state, "lost");
  assert.equal((await refusal(registry.find(session.id, alice))).code, "session_lost");
  await registry.shutdown();
});

test("a checkpoint the store does not take leaves the snapshot the record names in place", async () => {
  const { clock, store, snapshots, pod } = cluster();
  const registry = pod("pod-a", { checkpointAfterMs: 1000 });
  const alice = identity("acme");
  const session = await quietSession(registry, clock, alice);
  const first = (await store.get(session.id))?.snapshotKey;
  assert.ok(first, "checkpointed");
  // The record no longer matches what a checkpoint expects (it says hibernated, as a hibernation
  // that lost a race with a cell left it): the next checkpoint is refused.
  await store.update(session.id, { state: "hibernated" });
  assert.ok("result" in (await session.run("n += 1", undefined, {})));
  clock.advance(2000);
  await registry.sweep();
  assert.equal((await store.get(session.id))?.snapshotKey, first);
  assert.ok(await snapshots.get(first!), "the snapshot the record names is still stored");
  await registry.shutdown();
});

test("a session whose pod died with nothing saved is lost, and says so", async () => {
  const { clock, store, pod } = cluster();
  const [a, b] = [pod("pod-a", { heartbeatTtlMs: 1000 }), pod("pod-b")];
  const alice = identity("acme");
  const session = await a.open(alice);
  // pod-a stops beating (its process died): its heartbeat expires.
  await a.shutdown().catch(() => {});
  await store.update(session.id, { pod: "pod-a", podAddress: "pod-a:8000", state: "live", snapshotKey: null });
  clock.advance(2000);
  const gone = await refusal(b.find(session.id, alice));
  assert.equal(gone.code, "session_lost");
  assert.equal((await store.get(session.id))?.state, "lost");
  await b.shutdown();
});
