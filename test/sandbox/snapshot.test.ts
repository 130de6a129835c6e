// A live interpreter's snapshot restores into a new sandbox with everything intact.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { decodeSnapshot, encodeSnapshot } from "../../server/hibernation/snapshot-codec.ts";
import { SnapshotFailed } from "../../server/sandbox/sandbox.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const runtime = await startTestRuntime({ poolSize: 1 });
const base = await readFile(runtime.environment.snapshotPath);

test("functions, classes, closures, imports, a 50 MiB list and the RNG survive snapshot and restore", async () => {
  const sandbox = await runtime.pool.take();
  await run(
    sandbox,
    [
      "import json, random, collections",
      "class Account:\n    def __init__(self, owner): self.owner = owner\n    def hello(self): return f'hi {self.owner}'",
      "def make_counter(start):\n    count = [start]\n    def step():\n        count[0] += 1\n        return count[0]\n    return step",
      "counter = make_counter(41)",
      "big = list(range(1_500_000))  # about 50 MiB of list and ints",
      "acct = Account('ada')",
      "tally = collections.Counter('hibernate')",
    ].join("\n"),
  );
  const snapshot = await sandbox.snapshot();
  const expected = await run(sandbox, "[random.random() for _ in range(3)]");
  assert.equal(expected.error, null);
  const encoded = await encodeSnapshot(snapshot, base);
  const restored = await runtime.restore(await decodeSnapshot(encoded, base));
  const result = await run(restored, "acct.hello(), counter(), len(big), big[-1], json.dumps(tally['e']), type(acct).__name__");
  assert.equal(result.value, "('hi ada', 42, 1500000, 1499999, '2', 'Account')");
  assert.equal((await run(restored, "[random.random() for _ in range(3)]")).value, expected.value, "the same RNG state, not reseeded");
  assert.ok(snapshot.byteLength > base.byteLength + 20 * 2 ** 20, `the heap grew well past the base's size: ${snapshot.byteLength} vs ${base.byteLength}`);
  await restored.close();
});

test("a small session's stored snapshot is small", async () => {
  const sandbox = await runtime.pool.take();
  await run(sandbox, "a = 1\nb = 'two'\nc = [3.0]\ndef f(x): return x + a");
  const encoded = await encodeSnapshot(await sandbox.snapshot(), base);
  assert.ok(encoded.byteLength < 2 ** 20, `${encoded.byteLength} bytes stored`);
  const restored = await runtime.restore(await decodeSnapshot(encoded, base));
  assert.equal((await run(restored, "f(41), b, c")).value, "(42, 'two', [3.0])");
  await restored.close();
});

test("a session holding JavaScript objects cannot be snapshotted and keeps running", async () => {
  const sandbox = await runtime.pool.take();
  await run(sandbox, "from pyodide.ffi import to_js\nheld = to_js([1, 2, 3])\nkept = 'yes'");
  await assert.rejects(sandbox.snapshot(), SnapshotFailed);
  assert.equal((await run(sandbox, "kept")).value, "'yes'");
});

test("an interrupt that arrives after its cell ended does not break off the next snapshot", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal((await run(sandbox, "kept = 7")).error, null);
  // The host repeats an interrupt until it hears its cell's result, so a repeat can reach the
  // sandbox after the cell has ended: sent here by hand, for a cell already done.
  (sandbox as unknown as { channel: { send(message: { type: "interrupt" }): void } }).channel.send({ type: "interrupt" });
  const first = await sandbox.snapshot();
  // Had the snapshot's own Python been interrupted halfway, the interpreter would keep host
  // objects it cannot serialise, and every later snapshot would fail.
  const second = await sandbox.snapshot();
  assert.ok(first.byteLength > 0 && second.byteLength > 0);
  assert.equal((await run(sandbox, "kept + 1")).value, "8");
  const restored = await runtime.restore(second);
  assert.equal((await run(restored, "kept")).value, "7");
  await Promise.all([sandbox.close(), restored.close()]);
});
