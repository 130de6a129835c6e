// A cell is bounded: what it scheduled does not run after it, what it returns fits the caps
// (and says what was cut), and what it shows of an error holds neither the sandbox's own frames
// nor a path of the host.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RESULT_CAPS } from "../../server/sandbox/ipc.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const runtime = await startTestRuntime({ poolSize: 1 });
const sandbox = await runtime.pool.take();

test("work a cell scheduled runs inside the cell's time: its result waits for it", async () => {
  const cell = await run(sandbox, "import asyncio\ndone = []\nasync def short():\n    await asyncio.sleep(0.05)\n    done.append('task')\n" +
    "asyncio.ensure_future(short())\nasyncio.get_event_loop().call_later(0.02, lambda: done.append('later'))");
  assert.equal(cell.error, null);
  assert.equal((await run(sandbox, "sorted(done)")).value, "['later', 'task']", "both ran before the cell's result");
});

test("background work that outlives its cell's deadline is interrupted with the cell and never runs after it", async () => {
  const started = await run(
    sandbox,
    "import asyncio\nticks = [0]\nasync def spin():\n    while True:\n        ticks[0] += 1\n        await asyncio.sleep(0)\n" +
      "task = asyncio.ensure_future(spin())",
    { timeoutMs: 1000 },
  );
  assert.equal(started.error?.type, "TimeoutError");
  assert.equal(started.state_preserved, true, "an interrupt was enough: no kill");
  const first = await run(sandbox, "ticks[0]");
  const second = await run(sandbox, "ticks[0]");
  assert.ok(Number(first.value) > 0, "the loop ran during its cell");
  assert.equal(second.value, first.value, "and not between the later cells");
});

test("the error, value, locals and the whole result are capped, and the result says what was cut", async () => {
  const raised = await run(sandbox, 'raise ValueError("A" * 8_388_608)');
  assert.equal(raised.error?.type, "ValueError");
  assert.ok(raised.error!.message.length <= RESULT_CAPS.errorChars + 64, `message of ${raised.error!.message.length}`);
  assert.ok(raised.error!.traceback.length <= RESULT_CAPS.errorChars + 64, `traceback of ${raised.error!.traceback.length}`);
  assert.ok(raised.truncated.includes("error.message"), JSON.stringify(raised.truncated));

  const long = await run(sandbox, 'globals()["n" * 8_000_000] = 1\nbig = "B" * 8_000_000\nbig', { locals: "all" });
  assert.ok(long.value!.length <= RESULT_CAPS.stringChars + 64);
  assert.ok(Object.keys(long.locals!).every((name) => name.length <= RESULT_CAPS.nameChars + 64));
  assert.ok(long.truncated.includes("value") && long.truncated.includes("locals_names"), JSON.stringify(long.truncated));

  const many = await run(sandbox, 'for i in range(3000):\n    globals()[f"v{i}"] = "C" * 900', { locals: "all" });
  assert.ok(JSON.stringify(many.locals).length <= RESULT_CAPS.resultBytes);
  assert.ok(many.truncated.includes("locals"));
  assert.equal((await run(sandbox, 'for i in range(3000):\n    del globals()[f"v{i}"]\ndel globals()["n" * 8_000_000], big', { locals: "none" })).error, null);
});

test("a guest that sends more than the caps allow is refused by the host, whatever its helpers say", async () => {
  const rebound = await runtime.pool.take();
  const cell = await run(rebound, 'import _wasm_repl\n_wasm_repl._cap_string = lambda text, limit=None: text\n_wasm_repl._cut_to_json_size = lambda text, budget: text\n"A" * 8_000_000');
  assert.ok((cell.value?.length ?? 0) <= RESULT_CAPS.stringChars + 64, `a value of ${cell.value?.length} characters reached the host's result`);
  assert.equal(cell.state_preserved, false, "the sandbox that sent it was ended");
  assert.match(cell.error!.message, /protocol_violation/);
});

test("a traceback shows no frame of the sandbox and no path of the host", async () => {
  const hostPath = runtime.environment.files.sandboxDir;
  const slept = await run(sandbox, "import time\ntime.sleep(30)", { timeoutMs: 1000 });
  const failed = await run(sandbox, 'import _wasm_repl\n_wasm_repl._host_llm("not json")');
  for (const result of [slept, failed]) {
    assert.ok(result.error, "the cell failed");
    const text = `${result.error!.message}\n${result.error!.traceback}`;
    assert.ok(!text.includes("file://") && !text.includes(hostPath) && !/worker\.ts|<wasm-repl>/.test(text), text);
    assert.match(result.error!.traceback, /<cell-\d+>/, "the user's own frames stay");
  }
  assert.equal(slept.error!.type, "TimeoutError");
});
