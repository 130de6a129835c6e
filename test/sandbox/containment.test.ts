// Limits and failures stay inside their sandbox, and every ending is reported with its cause.
import assert from "node:assert/strict";
import { test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

// A process of its own for every interpreter: what kills a whole process (the resident-memory
// watchdog, with no headroom here; V8's heap limit) then kills that interpreter alone, which is
// what these tests look at. Shared processes are the business of test/security/interpreter-reuse.
const alone = { interpretersPerProcess: 1 };
const capped = await startTestRuntime({ poolSize: 2, pool: alone, limits: { memoryMb: 256, watchdogHeadroomMb: 0, maxOutputBytes: 1000 } });
// No watchdog headroom and a V8 heap larger than the watchdog allows: the watchdog acts first.
const watched = await startTestRuntime({ pool: alone, limits: { memoryMb: 256, watchdogHeadroomMb: 0, jsHeapMb: 4096 } });
// With a large watchdog headroom, only V8's own heap limit can stop a JavaScript allocation.
const lenient = await startTestRuntime({ pool: alone, limits: { memoryMb: 256, watchdogHeadroomMb: 4096, jsHeapMb: 48 } });

test("growing past the memory cap raises MemoryError where the allocator can refuse", async () => {
  const sandbox = await lenient.pool.take();
  const result = await run(sandbox, "hog = bytearray(400 * 2**20)");
  assert.equal(result.error!.type, "MemoryError");
  assert.match(result.error!.message, /at most 256 MiB/);
  assert.equal(result.state_preserved, true);
  assert.equal((await run(sandbox, "small = [0] * 1000\nlen(small)")).value, "1000");
});

test("the watchdog kills a sandbox whose resident memory passes the limit (memory its heap cap cannot refuse): memory_limit", async () => {
  const sandbox = await watched.pool.take();
  const result = await run(sandbox, "from pyodide.ffi import to_js\nheld = [to_js(list(range(10**6))) for _ in range(100)]\nimport time\ntime.sleep(5)", { timeoutMs: 60_000 });
  assert.equal(result.state_preserved, false);
  assert.equal(result.error!.type, "MemoryError");
  assert.equal((await sandbox.exited).cause, "memory_limit");
});

test("memory the allocator cannot refuse (the JavaScript heap) ends in a kill reported as memory_limit", async () => {
  const sandbox = await lenient.pool.take();
  const result = await run(sandbox, "from pyodide.ffi import to_js\nheld = [to_js(list(range(10**6))) for _ in range(100)]", { timeoutMs: 60_000 });
  assert.equal(result.state_preserved, false);
  assert.equal((await sandbox.exited).cause, "memory_limit");
});

test("a wasm stack overflow is detected and reported; the other sandboxes carry on", async () => {
  const victim = await capped.pool.take();
  const bystander = await capped.pool.take();
  await run(bystander, "alive = 'yes'");
  const result = await run(victim, "import json\njson.loads('[' * 200000 + ']' * 200000)");
  assert.equal(result.state_preserved, false);
  assert.equal(result.error!.type, "RecursionError");
  assert.equal((await victim.exited).cause, "stack_overflow");
  assert.equal((await run(bystander, "alive")).value, "'yes'");
});

test("a sandbox killed from outside is detected at once, with its cause", async () => {
  const sandbox = await capped.pool.take();
  const pending = run(sandbox, "while True: pass", { timeoutMs: 60_000 });
  const killedAt = performance.now();
  process.kill(sandbox.pid!, "SIGKILL");
  const result = await pending;
  assert.ok(performance.now() - killedAt < 5000, "detected long before the cell's 60 s timeout");
  assert.equal(result.state_preserved, false);
  assert.equal(result.error!.type, "SandboxError");
  const exit = await sandbox.exited;
  assert.equal(exit.cause, "crashed");
  assert.match(exit.detail, /SIGKILL/);
  await assert.rejects(run(sandbox, "1"), /the sandbox has ended/);
});

test("output past MAX_OUTPUT_BYTES is dropped and counted while the cell keeps running", async () => {
  const sandbox = await capped.pool.take();
  const streamed: string[] = [];
  const result = await run(sandbox, "for i in range(100):\n    print('y' * 99)\ndone = True\n'finished'", {
    onOutput: (_name, text) => streamed.push(text),
  });
  assert.equal(result.value, "'finished'");
  assert.equal(result.stdout.length, 1000);
  assert.equal(streamed.join(""), result.stdout);
  assert.equal(result.output_dropped_bytes, 100 * 100 - 1000);
  assert.equal((await run(sandbox, "print('fresh cell')")).stdout, "fresh cell\n", "the cap is per cell");
});

test("sandboxes booted from one snapshot do not share random state", async () => {
  const draws = await Promise.all(
    [capped, lenient].map(async (runtime) => (await run(await runtime.pool.take(), "import random\nrandom.random()")).value),
  );
  assert.notEqual(draws[0], draws[1]);
});
