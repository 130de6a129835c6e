// Cells in one real sandbox: persistence, values, locals, errors, output.
import assert from "node:assert/strict";
import { test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const runtime = await startTestRuntime();
const sandbox = await runtime.pool.take();

test("variables, functions, classes and imports persist across cells", async () => {
  await run(sandbox, "import math\nn = 20\ndef square(v):\n    return v * v\nclass Box:\n    def __init__(self, v): self.v = v");
  const result = await run(sandbox, "Box(square(n)).v + math.floor(math.pi)");
  assert.equal(result.success, true);
  assert.equal(result.value, "403");
  assert.equal(result.state_preserved, true);
});

test("a trailing expression gives its repr; None and statements give nothing", async () => {
  assert.equal((await run(sandbox, "'a' + 'b'")).value, "'ab'");
  assert.equal((await run(sandbox, "None")).value, null);
  assert.equal((await run(sandbox, "y = 1")).value, null);
  assert.equal((await run(sandbox, "print('hi')")).value, null);
});

test("execution count and time are reported", async () => {
  const first = await run(sandbox, "pass");
  const second = await run(sandbox, "sum(range(100000))");
  assert.equal(second.execution_count, first.execution_count + 1);
  assert.ok(second.execution_time > 0 && second.execution_time < 10);
});

test("locals are summarized as JSON-safe, bounded values", async () => {
  const result = await run(
    sandbox,
    [
      "import json as js_mod",
      "class Thing:\n    def __repr__(self): return 'Thing()'",
      "summary_probe = {",
      "  'i': 3, 'f': 1.5, 'b': True, 'none': None, 's': 'x' * 5000, 'big': 2**70, 'nan': float('nan'),",
      "  'mod': js_mod, 'fn': len, 'lam': (lambda: 1), 'cls': Thing, 'obj': Thing(),",
      "  'list': list(range(150)), 'tuple': (1, 'two'), 'nested': {1: [{'k': 'v'}]},",
      "}",
      "__dunder__ = 1",
    ].join("\n"),
  );
  assert.equal(result.success, true, JSON.stringify(result.error));
  const probe = result.locals!.summary_probe as Record<string, unknown>;
  assert.equal(probe.i, 3);
  assert.equal(probe.f, 1.5);
  assert.equal(probe.b, true);
  assert.equal(probe.none, null);
  assert.match(probe.s as string, /^x{1000}\.\.\. \(4000 more characters\)$/);
  assert.equal(probe.big, "1180591620717411303424");
  assert.equal(probe.nan, "nan");
  assert.equal(probe.mod, "<module 'json'>");
  assert.equal(probe.fn, "<function 'len'>");
  assert.equal(probe.lam, "<function '<lambda>'>");
  assert.equal(probe.cls, "<class 'Thing'>");
  assert.equal(probe.obj, "Thing()");
  const list = probe.list as unknown[];
  assert.equal(list.length, 101);
  assert.equal(list[100], "... (50 more items)");
  assert.deepEqual(probe.tuple, [1, "two"]);
  assert.deepEqual(probe.nested, { "1": [{ k: "v" }] });
  assert.equal(result.locals!.js_mod, "<module 'json'>");
  assert.equal("__dunder__" in result.locals!, false);
  assert.equal("__builtins__" in result.locals!, false);
  assert.equal("_wasm_repl" in result.locals!, false);
});

test("locals 'changed' reports only new or changed names, 'none' reports nothing", async () => {
  await run(sandbox, "stable = 1\nmoving = 1");
  const changed = await run(sandbox, "moving += 1\nfresh = 'new'", { locals: "changed" });
  assert.deepEqual(changed.locals, { moving: 2, fresh: "new" });
  assert.equal((await run(sandbox, "moving += 1", { locals: "none" })).locals, null);
});

test("an error is structured, with a traceback that starts at the user's cell", async () => {
  const result = await run(sandbox, "def inner():\n    raise ValueError('bad value')\ninner()");
  assert.equal(result.success, false);
  assert.equal(result.error!.type, "ValueError");
  assert.equal(result.error!.message, "bad value");
  assert.match(result.error!.traceback, /^Traceback \(most recent call last\):\n  File "<cell-\d+>", line 3, in <module>/);
  assert.match(result.error!.traceback, /raise ValueError\('bad value'\)/);
  assert.doesNotMatch(result.error!.traceback, /wasm-repl/);
  assert.equal(result.state_preserved, true);
});

test("a syntax error names the line", async () => {
  const result = await run(sandbox, "x = (1,\ny = 2 +");
  assert.equal(result.error!.type, "SyntaxError");
  assert.match(result.error!.traceback, /<cell-\d+>", line \d/);
  assert.doesNotMatch(result.error!.traceback, /wasm-repl/);
});

test("stdout and stderr stream while the cell runs, in order, on newline and on flush", async () => {
  const started = performance.now();
  const chunks: { name: string; text: string; at: number }[] = [];
  const result = await run(
    sandbox,
    "import sys, time\nprint('one')\nprint('two', file=sys.stderr)\nprint('three', end='', flush=True)\ntime.sleep(0.5)\nprint('four')",
    { onOutput: (name, text) => chunks.push({ name, text, at: performance.now() - started }) },
  );
  const finished = performance.now() - started;
  assert.deepEqual(
    chunks.map(({ name, text }) => [name, text]),
    [["stdout", "one\n"], ["stderr", "two\n"], ["stdout", "three"], ["stdout", "four\n"]],
  );
  const three = chunks[2]!;
  assert.ok(three.at < finished - 400, `flushed output arrived at ${three.at} ms, the cell ended at ${finished} ms`);
  assert.equal(result.stdout, "one\nthreefour\n");
  assert.equal(result.stderr, "two\n");
});

test("set_vars turns JSON values into Python variables and refuses bad names", async () => {
  assert.equal(await sandbox.setVars({ given: { a: [1, 2.5, "s", null, true] } }), null);
  assert.equal((await run(sandbox, "given['a'][1] * 2")).value, "5.0");
  const refused = await sandbox.setVars({ "not a name": 1 });
  assert.equal(refused!.type, "ValueError");
  assert.match(refused!.message, /not assignable variable names: not a name/);
});

test("standard input is not the host's pipe", async () => {
  const result = await run(sandbox, "input('? ')");
  assert.equal(result.success, false);
  assert.match(result.error!.type, /OSError|EOFError/);
  assert.equal((await run(sandbox, "1 + 1")).value, "2");
});
