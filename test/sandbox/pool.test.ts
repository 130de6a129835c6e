// The pool's policy, driven with a stand-in sandbox so failures and timing can be forced.
// (The real sandboxes in the pool are exercised by sandbox.test.ts.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, type LogFields } from "../../server/log.ts";
import { PoolClosed, SandboxPool, type Poolable } from "../../server/sandbox/pool.ts";

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

function recordingLog() {
  const events: LogFields[] = [];
  return { events, log: createLogger("debug", (line) => events.push(JSON.parse(line))) };
}

test("fills to its size in the background and hands out ready sandboxes at once", async () => {
  let started = 0;
  const pool = new SandboxPool({ size: 2, maxConcurrentBoots: 2, start: async () => (started++, new FakeProcess()), log: recordingLog().log });
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
  const pool = new SandboxPool({
    size: 1,
    maxConcurrentBoots: 1,
    retryInitialMs: 10,
    start: async () => {
      attempts++;
      if (attempts <= 3) throw new Error(`boom ${attempts}`);
      return Object.assign(new FakeProcess(), { attempt: attempts });
    },
    log,
  });
  const taken = await pool.take();
  assert.equal(taken.attempt, 4, "the first boot that succeeded");
  const failures = events.filter((event) => event.event === "sandbox_boot_failed");
  assert.deepEqual(failures.map((event) => event.retry_in_ms), [10, 20, 40], "exponential backoff");
  assert.equal(pool.consecutiveFailures, 0);
  await pool.close();
});

test("a sandbox that dies while idle is replaced", async () => {
  const made: FakeProcess[] = [];
  const pool = new SandboxPool({ size: 1, maxConcurrentBoots: 1, start: async () => made[made.push(new FakeProcess()) - 1]!, log: recordingLog().log });
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
  const pool = new SandboxPool({
    size: 0,
    maxConcurrentBoots: 1,
    start: async () => {
      await gate;
      return made[made.push(new FakeProcess()) - 1]!;
    },
    log: recordingLog().log,
  });
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
  const pool = new SandboxPool({
    size: 0,
    maxConcurrentBoots: 1,
    start: () => new Promise<FakeProcess>((resolve) => boots.push(() => resolve(new FakeProcess()))),
    log: recordingLog().log,
  });
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
