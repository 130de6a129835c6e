// Introspection between cells: completion, inspection and is-complete about the session's names,
// answered without running a cell.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Interpreter } from "../../server/sandbox/interpreter.ts";
import { SandboxBusy, SandboxGone, type IntrospectReply } from "../../server/sandbox/sandbox.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

// A short call deadline, for the introspection that never ends.
const runtime = await startTestRuntime({ poolSize: 1, limits: { callTimeoutMs: 1000 } });
const sandbox = await runtime.pool.take();
await run(
  sandbox,
  "import math\nmy_variable = 1\nmy_vector = [1]\ndef add(a, b=2):\n    'Adds b to a.'\n    return a + b\n" +
    "class Noisy:\n    def __dir__(self):\n        print('dir ran')\n        return ['loud']\n    def __getattr__(self, name):\n        raise RuntimeError(name)\nnoisy = Noisy()",
);

const complete = (code: string, cursor = [...code].length) => sandbox.introspect({ kind: "complete", code, cursor });
const inspect = (code: string, detail: 0 | 1 = 0, cursor = [...code].length) => sandbox.introspect({ kind: "inspect", code, cursor, detail });
const isComplete = (code: string) => sandbox.introspect({ kind: "is_complete", code });

test("completion lists the session's names, builtins and attributes for the name before the cursor", async () => {
  assert.deepEqual(await complete("x = my_v"), { kind: "complete", matches: ["my_variable", "my_vector"], cursor_start: 4, cursor_end: 8 });
  assert.deepEqual(await complete("math.flo"), { kind: "complete", matches: ["math.floor"], cursor_start: 0, cursor_end: 8 });
  const builtins = (await complete("isinst")) as Extract<IntrospectReply, { kind: "complete" }>;
  assert.deepEqual(builtins.matches, ["isinstance"], "without the ( rlcompleter appends");
  const middle = (await complete("my_vec + 1", 6)) as Extract<IntrospectReply, { kind: "complete" }>;
  assert.deepEqual([middle.matches, middle.cursor_start, middle.cursor_end], [["my_vector"], 0, 6], "the token ends at the cursor");
});

test("cursors count the code's characters (code points), as Python and Jupyter do", async () => {
  const code = "'😀' + my_var";
  assert.deepEqual(await complete(code), { kind: "complete", matches: ["my_variable"], cursor_start: 6, cursor_end: 12 });
});

test("an object whose introspection raises gives an empty answer, not an error; its output reaches no cell", async () => {
  const printed: string[] = [];
  await run(sandbox, "pass", { onOutput: (_name, text) => printed.push(text) });
  assert.deepEqual(await complete("noisy."), { kind: "complete", matches: [], cursor_start: 6, cursor_end: 6 });
  assert.deepEqual(await inspect("noisy.loud"), { kind: "inspect", found: false, data: {} });
  assert.deepEqual(printed, [], "what __dir__ printed did not reach the last cell's listener");
});

test("inspection gives the signature and docstring, or the source with detail 1", async () => {
  const reply = (await inspect("add")) as Extract<IntrospectReply, { kind: "inspect" }>;
  assert.equal(reply.found, true);
  assert.equal(reply.data["text/plain"], "Signature: add(a, b=2)\nDocstring: Adds b to a.\nType:      function");
  const detailed = (await inspect("add", 1)) as Extract<IntrospectReply, { kind: "inspect" }>;
  assert.match(detailed.data["text/plain"] as string, /^Signature: add\(a, b=2\)\nSource:    def add\(a, b=2\):\n    'Adds b to a\.'\n    return a \+ b\nType:      function$/);
  const inCall = (await inspect("add(1, ")) as Extract<IntrospectReply, { kind: "inspect" }>;
  assert.match(inCall.data["text/plain"] as string, /^Signature: add\(a, b=2\)/, "inside a call's parentheses: the function called");
  const text = async (code: string) => ((await inspect(code)) as { data: Record<string, string> }).data["text/plain"]!;
  assert.match(await text("my_variable"), /^String form: 1\nDocstring:   int\(/);
  assert.match(await text("math.floor"), /^Signature: floor\(x, \/\)\nDocstring: /);
  assert.deepEqual(await inspect("no_such_name"), { kind: "inspect", found: false, data: {} });
  assert.deepEqual(await inspect("   "), { kind: "inspect", found: false, data: {} });
});

test("is_complete tells whole statements from unfinished and invalid ones, with the next line's indent", async () => {
  assert.deepEqual(await isComplete("x = 1\ny = 2"), { kind: "is_complete", status: "complete", indent: "" });
  assert.deepEqual(await isComplete("for i in range(3):"), { kind: "is_complete", status: "incomplete", indent: "    " });
  assert.deepEqual(await isComplete("def f():\n    if True:"), { kind: "is_complete", status: "incomplete", indent: "        " });
  assert.deepEqual(await isComplete("x = (1,"), { kind: "is_complete", status: "incomplete", indent: "" });
  assert.deepEqual(await isComplete("def f(x):\n  x*2"), { kind: "is_complete", status: "incomplete", indent: "  " }, "a block stays open until a blank line, as at the prompt");
  assert.deepEqual(await isComplete("def f(x):\n  x*2\n\n"), { kind: "is_complete", status: "complete", indent: "" });
  assert.deepEqual(await isComplete("1 +* 2"), { kind: "is_complete", status: "invalid", indent: "" });
});

test("introspection runs no cell: the execution count and the variables stay", async () => {
  const before = await run(sandbox, "sorted(k for k in globals() if not k.startswith('__'))", { locals: "none" });
  await complete("my_");
  await inspect("add", 1);
  await isComplete("x = ");
  const after = await run(sandbox, "sorted(k for k in globals() if not k.startswith('__'))", { locals: "none" });
  assert.equal(after.execution_count, before.execution_count + 1);
  assert.equal(after.value, before.value, "no name added to the session's globals");
});

test("introspection while a cell runs is refused with SandboxBusy", async () => {
  const pending = run(sandbox, "import time\ntime.sleep(0.3)");
  await assert.rejects(complete("my_"), SandboxBusy);
  await pending;
  assert.equal((await complete("my_variab")).kind, "complete");
});

test("an interpreter introspects on its sandbox", async () => {
  const interpreter = new Interpreter(runtime.sourceFor({ tenant: "test", user: "introspect" }));
  await interpreter.execute({ code: "session_name = 1", timeoutMs: 5000, locals: "none" });
  assert.deepEqual(await interpreter.introspect({ kind: "complete", code: "session_n", cursor: 9 }), { kind: "complete", matches: ["session_name"], cursor_start: 0, cursor_end: 9 });
  await interpreter.close();
});

test("introspection that never ends (a __dir__ that loops) is ended with its sandbox at the call deadline", async () => {
  const stuck = await runtime.pool.take();
  await run(stuck, "class Endless:\n    def __dir__(self):\n        while True:\n            pass\nendless = Endless()");
  await assert.rejects(stuck.introspect({ kind: "complete", code: "endless.", cursor: 8 }), SandboxGone);
  assert.equal((await stuck.exited).cause, "unresponsive");
});
