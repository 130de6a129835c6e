// The server's helpers after a session's snapshot is restored: the new boot installs them again,
// and what the session kept of the earlier boot's (a helper taken by name) still works.
import assert from "node:assert/strict";
import { test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const runtime = await startTestRuntime({ poolSize: 1 });

test("helpers a session took by name before a restore still reach the host", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal((await run(sandbox, "from time import sleep as nap\nask = llm_query")).error, null);
  const restored = await runtime.restore(await sandbox.snapshot());
  const result = await run(restored, "nap(0.01)\nask('hi')", { llm: async ({ prompts }) => prompts.map((prompt) => `echo ${prompt}`) });
  assert.equal(result.error, null);
  assert.equal(result.value, "'echo hi'");
  await restored.close();
});
