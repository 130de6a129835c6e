// One sandbox that never answers must not stop the server's housekeeping: other tenants' sessions
// still hibernate and are still evicted, the hung sandbox is killed at its call deadline and
// reported, and a drain ends. "Never answers" is a sandbox process stopped with SIGSTOP: it reads
// nothing and writes nothing, whatever Python was doing.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SCOPES, type Identity } from "../../server/auth/identity.ts";
import { loadConfig } from "../../server/config.ts";
import { LlmService } from "../../server/llm/service.ts";
import { createLogger } from "../../server/log.ts";
import { Metrics } from "../../server/metrics.ts";
import type { SandboxRuntime } from "../../server/sandbox/runtime.ts";
import type { Sandbox } from "../../server/sandbox/sandbox.ts";
import { SessionRegistry, type RegistryOptions } from "../../server/sessions/registry.ts";
import type { Session } from "../../server/sessions/session.ts";
import { MemoryStore } from "../../server/store/memory.ts";
import { registryOptions } from "../helpers/registry.ts";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import { ManualClock } from "../store/manual-clock.ts";

const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
/** The smallest heap cap: a call's deadline grows with it (see Sandbox.callDeadlineMs). */
const MEMORY_MB = 64;
const HIBERNATE_AFTER_MS = 10_000;
const IDLE_TIMEOUT_MS = 60_000;
/** Only a hang reaches these. */
const HANG_GUARD_MS = 60_000;

// A deadline no healthy snapshot comes near, to show that the others do not wait for it...
const patientMetrics = new Metrics({ tenants: [], models: [] });
const patient = await startTestRuntime({ limits: { memoryMb: MEMORY_MB, callTimeoutMs: 120_000 }, metrics: patientMetrics });
// ...and one short enough for a test to see the hung sandbox killed at it.
const promptMetrics = new Metrics({ tenants: [], models: [] });
const prompt = await startTestRuntime({ limits: { memoryMb: MEMORY_MB, callTimeoutMs: 2000 }, metrics: promptMetrics });

interface Harness {
  registry: SessionRegistry;
  store: MemoryStore;
  clock: ManualClock;
  logs: Array<Record<string, unknown>>;
  /** Opens a session of its own tenant and runs `code` in it; its sandbox's pid is known from then on. */
  open(tenant: string, code?: string): Promise<{ session: Session; pid: () => number }>;
}

function harness(runtime: SandboxRuntime, metrics: Metrics, options: Partial<RegistryOptions> = {}): Harness {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger("debug", (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
  const pids = new Map<string, number>();
  // The runtime's own sandboxes; only which tenant got which process is noted.
  const noted = (tenant: string, sandbox: Sandbox) => (pids.set(tenant, sandbox.pid!), sandbox);
  const sandboxes = {
    sourceFor: (owner: { tenant: string; user: string }) => {
      const source = runtime.sourceFor(owner);
      return {
        take: async () => noted(owner.tenant, await source.take()),
        // A real-time sweep may hibernate a session before the test stops its sandbox: the next
        // cell then runs on a restored one, whose pid is the one to stop.
        restore: async (snapshot: Uint8Array) => noted(owner.tenant, await source.restore(snapshot)),
      };
    },
  };
  const registry = new SessionRegistry(
    registryOptions(
      { runtime, store, clock, log, metrics, limits: { idle_timeout: IDLE_TIMEOUT_MS / 1000, memory_mb: MEMORY_MB } },
      { hibernateAfterMs: HIBERNATE_AFTER_MS, sandboxes, llm: new LlmService(config.llm, metrics, sandboxes, 30_000), ...options },
    ),
  );
  return {
    registry,
    store,
    clock,
    logs,
    open: async (tenant, code = "x = 1") => {
      const owner: Identity = { user: "alice", tenant, scopes: new Set(SCOPES), limits: {}, expiresAt: Date.now() + 3600_000 };
      const session = await registry.open(owner);
      const outcome = await session.run(code, undefined, {});
      assert.ok("result" in outcome && outcome.result.success, `setup cell of ${tenant}: ${JSON.stringify(outcome)}`);
      return { session, pid: () => pids.get(tenant)! };
    },
  };
}

/** Stops a sandbox's process; it is killed (SIGKILL works on a stopped process) when the file ends, if nothing killed it before. */
function stop(pid: number): void {
  process.kill(pid, "SIGSTOP");
  after(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone: killed at its deadline
    }
  });
}

/** "T" while stopped; null once the process is gone. */
async function processState(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]!;
  } catch {
    return null;
  }
}

async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${HANG_GUARD_MS} ms`);
    await sleep(50);
  }
}

test("with one tenant's sandbox stopped, another's idle session still hibernates and another's is still evicted", { timeout: 2 * HANG_GUARD_MS }, async () => {
  const { registry, store, clock, open } = harness(patient, patientMetrics);
  // The stuck session comes first, so that housekeeping reaches it before the others.
  const stuck = await open("stuck");
  const evictee = await open("evictee");
  clock.advance(IDLE_TIMEOUT_MS - HIBERNATE_AFTER_MS);
  const sleeper = await open("sleeper");
  await stuck.session.run("y = 2", undefined, {});
  stop(stuck.pid());
  clock.advance(HIBERNATE_AFTER_MS);

  const sweeping = registry.sweep(); // waits on the stuck snapshot, until its deadline
  await waitFor("the sleeper hibernated", async () => (await store.get(sleeper.session.id))?.state === "hibernated");
  await waitFor("the evictee evicted", async () => (await store.get(evictee.session.id))?.state === "evicted");
  assert.equal((await store.get(evictee.session.id))?.endedReason, "idle");
  assert.equal(sleeper.session.hibernated, true);
  assert.equal(await processState(stuck.pid()), "T", "all that while, the stuck sandbox had not answered");
  // A later sweep does not queue behind the stuck one either, nor start it again.
  await registry.sweep();
  assert.equal((await store.get(stuck.session.id))?.state, "live");
  process.kill(stuck.pid(), "SIGKILL");
  await sweeping;
});

test("a stopped sandbox's snapshot misses its deadline: it is killed, reported, and the session says its state is lost", { timeout: 2 * HANG_GUARD_MS }, async () => {
  const { registry, store, clock, logs, open } = harness(prompt, promptMetrics);
  const stuck = await open("stuck", "kept = 41");
  stop(stuck.pid());
  clock.advance(HIBERNATE_AFTER_MS);

  await registry.sweep();
  assert.equal(await processState(stuck.pid()), null, "the stopped sandbox was killed");
  const exits = await promptMetrics.registry.getSingleMetric("wasm_repl_sandbox_exits_total")!.get();
  assert.equal(exits.values.find((value) => value.labels.cause === "unresponsive")?.value, 1);
  const failed = logs.find((line) => line.event === "session_hibernate_failed" && line.session_id === stuck.session.id);
  assert.match(String(failed?.reason), /did not answer a snapshot within \d+ ms \(SANDBOX_CALL_TIMEOUT_MS\)/);
  assert.equal((await store.get(stuck.session.id))?.state, "live", "not hibernated: there was nothing to save");

  const next = await stuck.session.run("kept + 1", undefined, {});
  assert.ok("result" in next);
  assert.equal(next.result.state_preserved, false, "the next cell is told the variables are gone");
  assert.equal(next.result.error?.type, "NameError");
  const ended = logs.find((line) => line.event === "sandbox_ended" && line.session_id === stuck.session.id);
  assert.equal(ended?.cause, "unresponsive");
  await registry.shutdown();
});

test("a drain with stopped sandboxes ends: the other sessions are saved, the stuck ones reported lost, none left live", { timeout: 2 * HANG_GUARD_MS }, async () => {
  const { registry, store, open } = harness(prompt, promptMetrics);
  const idleStuck = await open("idle-stuck");
  const applyStuck = await open("apply-stuck");
  const saved = [await open("saved-1", "a = 1"), await open("saved-2", "b = 2")];
  stop(idleStuck.pid());
  stop(applyStuck.pid());
  // set_vars sent to a sandbox that will never read it: the session is busy until its deadline.
  const assigning = applyStuck.session.run("1", undefined, { v: 1 });

  await registry.shutdown();
  for (const { session } of saved) {
    const record = await store.get(session.id);
    assert.equal(record?.state, "hibernated", `${session.id} was saved`);
    assert.equal(record?.pod, null, "and let go for another server to wake");
    assert.ok(record?.snapshotKey);
  }
  for (const { session } of [idleStuck, applyStuck]) assert.equal((await store.get(session.id))?.state, "lost", `${session.id} is reported lost`);
  const outcome = await assigning;
  assert.ok("result" in outcome && !outcome.result.success, "set_vars failed");
  assert.match(outcome.result.error!.message, /the sandbox ended \(unresponsive\): the sandbox did not apply set_vars within \d+ ms \(SANDBOX_CALL_TIMEOUT_MS\)/);
});
