// The pool's policy, driven with a stand-in interpreter so failures and timing can be forced.
// (The real interpreters in the pool are exercised by the other sandbox tests.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, type LogFields } from "../../server/log.ts";
import { PoolClosed, PoolTimeout, SandboxPool, type Poolable, type PoolOptions } from "../../server/sandbox/pool.ts";

class FakeProcess implements Poolable {
  alive = true;
  private end!: () => void;
  readonly exited = new Promise<void>((resolve) => (this.end = resolve));
  async close() {
    this.die();
  }
  die() {
    this.alive = false;
    this.end();
  }
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pool's options with defaults that keep nothing ready for keys unless a test asks. */
function options<S extends Poolable>(overrides: Partial<PoolOptions<S>> & Pick<PoolOptions<S>, "start">): PoolOptions<S> {
  return { size: 0, maxPerKey: 0, max: 16, maxConcurrentBoots: 1, claim: () => {}, waitTimeoutMs: 60_000, idleKeyMs: 60_000, log: recordingLog().log, ...overrides };
}

function recordingLog() {
  const events: LogFields[] = [];
  return { events, log: createLogger("debug", (line) => events.push(JSON.parse(line))) };
}

test("fills to its size in the background and hands out ready sandboxes at once", async () => {
  let started = 0;
  const pool = new SandboxPool(options({ size: 2, maxConcurrentBoots: 2, start: async () => (started++, new FakeProcess()) }));
  await tick();
  assert.equal(pool.available, 2);
  const taken = await pool.take();
  assert.ok(taken.alive);
  await tick();
  assert.equal(pool.available, 2, "refilled after a take");
  assert.equal(started, 3);
  await pool.close();
});

test("a failed boot is logged and retried with backoff; the pool recovers", async () => {
  let attempts = 0;
  const { events, log } = recordingLog();
  const pool = new SandboxPool(
    options({
      size: 1,
      retryInitialMs: 10,
      start: async () => {
        attempts++;
        if (attempts <= 3) throw new Error(`boom ${attempts}`);
        return Object.assign(new FakeProcess(), { attempt: attempts });
      },
      log,
    }),
  );
  while (attempts < 2) await tick(1);
  assert.equal(typeof pool.failingSince, "number", "failing since the first failed boot (readiness reads this)");
  const taken = await pool.take();
  assert.equal(taken.attempt, 4, "the first boot that succeeded");
  assert.equal(pool.failingSince, null);
  const failures = events.filter((event) => event.event === "sandbox_boot_failed");
  assert.deepEqual(failures.map((event) => event.retry_in_ms), [10, 20, 40], "exponential backoff");
  assert.equal(pool.consecutiveFailures, 0);
  await pool.close();
});

test("a sandbox that dies while idle is replaced", async () => {
  const made: FakeProcess[] = [];
  const pool = new SandboxPool(options({ size: 1, start: async () => made[made.push(new FakeProcess()) - 1]! }));
  await tick();
  made[0]!.die();
  await tick();
  assert.equal(made.length, 2);
  assert.equal(await pool.take(), made[1]);
  await pool.close();
});

test("takers beyond the pool size wait for boots; close refuses them and stops idle sandboxes", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const made: FakeProcess[] = [];
  const pool = new SandboxPool(
    options({
      start: async () => {
        await gate;
        return made[made.push(new FakeProcess()) - 1]!;
      },
    }),
  );
  const first = pool.take();
  const second = pool.take();
  release();
  assert.equal(await first, made[0]);
  assert.equal(await second, made[1]);
  const third = pool.take();
  await pool.close();
  await assert.rejects(third, PoolClosed);
  await assert.rejects(pool.take(), PoolClosed);
});

test("waiting takers are served in turn across keys, so one key's burst cannot starve another", async () => {
  const boots: (() => void)[] = [];
  const pool = new SandboxPool(options({ start: () => new Promise<FakeProcess>((resolve) => boots.push(() => resolve(new FakeProcess()))) }));
  const served: string[] = [];
  const takes = ["busy", "busy", "busy", "quiet"].map((key, index) => pool.take(key).then(() => served.push(`${key}${index}`)));
  for (let round = 0; round < 4; round++) {
    while (boots.length === 0) await tick(1);
    boots.shift()!();
    await tick(1);
  }
  await Promise.all(takes);
  assert.deepEqual(served, ["busy0", "quiet3", "busy1", "busy2"]);
  await pool.close();
});

class KeyedProcess extends FakeProcess {
  constructor(public key: string | null) {
    super();
  }
}

test("an interpreter kept for no key goes to the first key that takes it, and its replacement is booted for no key", async () => {
  const starts: (string | null)[] = [];
  const claims: [KeyedProcess, string][] = [];
  const pool = new SandboxPool(
    options({
      size: 1,
      start: async (key) => (starts.push(key), new KeyedProcess(key)),
      claim: (sandbox: KeyedProcess, key) => {
        claims.push([sandbox, key]);
        sandbox.key = key;
      },
    }),
  );
  await tick();
  const taken = await pool.take("alice");
  assert.equal(taken.key, "alice");
  assert.deepEqual(claims, [[taken, "alice"]]);
  await tick();
  assert.deepEqual(starts, [null, null], "the replacement is for whichever key comes next");
  await pool.close();
});

test("interpreters kept for one key are never handed to another", async () => {
  const pool = new SandboxPool(options({ maxPerKey: 2, start: async (key) => new KeyedProcess(key) }));
  assert.equal((await pool.take("alice")).key, "alice");
  await tick();
  assert.equal(pool.available, 1, "alice had to wait, so one is kept ready for her");
  assert.equal((await pool.take("bob")).key, "bob");
  assert.equal((await pool.take("alice")).key, "alice");
  await pool.close();
});

test("a key's demand grows what is kept for it, up to maxPerKey; a quiet key's are closed", async () => {
  const made: KeyedProcess[] = [];
  const pool = new SandboxPool(options({ maxPerKey: 2, idleKeyMs: 100, start: async (key) => made[made.push(new KeyedProcess(key)) - 1]! }));
  await Promise.all([pool.take("alice"), pool.take("alice"), pool.take("alice")]);
  while (pool.available < 2) await tick();
  await tick(20);
  assert.equal(pool.available, 2, "three waits, but at most maxPerKey are kept");
  while (pool.available > 0) await tick(20);
  assert.equal(made.filter((sandbox) => !sandbox.alive).length, 2, "the two kept ready were closed once alice went quiet");
  await pool.close();
});

test("a take that gets no interpreter within waitTimeoutMs fails with PoolTimeout, and says so", async () => {
  const waits: string[] = [];
  const pool = new SandboxPool(
    options({ waitTimeoutMs: 30, start: () => new Promise<FakeProcess>(() => {}), onWait: (_seconds, outcome) => waits.push(outcome) }),
  );
  await assert.rejects(pool.take("alice"), (error: Error) => error instanceof PoolTimeout && /POOL_WAIT_TIMEOUT/.test(error.message));
  assert.deepEqual(waits, ["timeout"]);
  await Promise.race([pool.close(), tick(10)]);
});

test("a key that may not claim (it has a process with room) waits for a boot of its own, leaving the unassigned one", async () => {
  const starts: (string | null)[] = [];
  const pool = new SandboxPool(options({ size: 1, mayClaim: (key) => key !== "alice", start: async (key) => (starts.push(key), new KeyedProcess(key)) }));
  await tick();
  assert.equal((await pool.take("alice")).key, "alice", "booted for alice, not claimed");
  assert.equal((await pool.take("bob")).key, null, "bob, without a process, claims the unassigned one");
  assert.deepEqual(starts.slice(0, 2), [null, "alice"]);
  await pool.close();
});
