// The limit on work running at once (child RLMs, a drain's hibernations).
import assert from "node:assert/strict";
import { test } from "node:test";
import { concurrency } from "../server/concurrency.ts";

test("at most `limit` tasks run at once; the rest start in order as slots free, failures included", async () => {
  const limit = concurrency(2);
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const task = (index: number, fail = false) =>
    limit(async () => {
      started.push(index);
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      if (fail) throw new Error(`task ${index} failed`);
      return index;
    });
  const results = [task(0, true), task(1), task(2), task(3)].map((promise) => promise.catch((error: Error) => error.message));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1], "two start, two wait");
  releases.shift()!(); // task 0 ends (failing): task 2 takes its slot
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1, 2]);
  while (releases.length > 0 || started.length < 4) {
    releases.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(await Promise.all(results), ["task 0 failed", 1, 2, 3]);
  assert.equal(most, 2);
});
