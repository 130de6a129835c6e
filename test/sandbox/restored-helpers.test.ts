// The server's helpers after a session's snapshot is restored: the new boot installs them again,
// and what the session kept of the earlier boot's (a helper taken by name) still works.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DisplayMessage } from "../../server/sandbox/sandbox.ts";
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

test("rich output survives snapshot and restore: display, IPython.display's names taken before, a value's bundle", async () => {
  const sandbox = await runtime.pool.take();
  const setup = "from IPython.display import HTML, display as shown\nclass Card:\n    def _repr_html_(self): return '<b>card</b>'\nkept = HTML('<i>kept</i>')";
  assert.equal((await run(sandbox, setup)).error, null);
  const restored = await runtime.restore(await sandbox.snapshot());
  const displays: DisplayMessage[] = [];
  const result = await run(restored, "shown(kept)\ndisplay(HTML('<u>new</u>'))\nimport IPython.display\nIPython.display.clear_output()\nCard()", {
    onDisplay: (message) => displays.push(message),
  });
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.deepEqual(
    displays.map((message) => (message.kind === "display" ? message.data["text/html"] : message.kind)),
    ["<i>kept</i>", "<u>new</u>", "clear_output"],
  );
  assert.equal(result.data?.["text/html"], "<b>card</b>");
  await restored.close();
});

test("input() and a getpass taken by name before a restore ask the host after it", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal((await run(sandbox, "from getpass import getpass as secret")).error, null);
  const restored = await runtime.restore(await sandbox.snapshot());
  const result = await run(restored, "input('a? '), secret('b? ')", { input: async (prompt, password) => `${prompt}${password}` });
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.equal(result.value, "('a? false', 'b? true')");
  await restored.close();
});

test("introspection answers about a restored session's names", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal((await run(sandbox, "def restored_function(x):\n    'Kept.'\n    return x")).error, null);
  const restored = await runtime.restore(await sandbox.snapshot());
  assert.deepEqual(await restored.introspect({ kind: "complete", code: "restored_f", cursor: 10 }), { kind: "complete", matches: ["restored_function"], cursor_start: 0, cursor_end: 10 });
  const inspected = await restored.introspect({ kind: "inspect", code: "restored_function", cursor: 3, detail: 0 });
  assert.deepEqual(inspected, { kind: "inspect", found: true, data: { "text/plain": "Signature: restored_function(x)\nDocstring: Kept.\nType:      function" } });
  await restored.close();
});
