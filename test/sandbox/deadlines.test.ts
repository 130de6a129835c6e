// Deadlines in two stages, interrupts, and sleeping that costs nothing.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import { Interpreter } from "../../server/sandbox/interpreter.ts";
import type { Sandbox } from "../../server/sandbox/sandbox.ts";

const runtime = await startTestRuntime({ poolSize: 2, limits: { killGraceMs: 500 } });

/** CPU seconds the process has used so far (user + system), from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("at its deadline a busy cell ends with TimeoutError and the session keeps its variables", async () => {
  const sandbox = await runtime.pool.take();
  await run(sandbox, "kept = 'still here'");
  const result = await run(sandbox, "while True:\n    pass", { timeoutMs: 300 });
  assert.equal(result.success, false);
  assert.equal(result.error!.type, "TimeoutError");
  assert.match(result.error!.message, /timeout of 0.3 s/);
  assert.match(result.error!.traceback, /TimeoutError: the cell exceeded its timeout/);
  assert.equal(result.state_preserved, true);
  assert.equal((await run(sandbox, "kept")).value, "'still here'");
});

test("an explicit interrupt gives KeyboardInterrupt, also during time.sleep", async () => {
  const sandbox = await runtime.pool.take();
  for (const code of ["while True:\n    pass", "import time\ntime.sleep(100)"]) {
    const pending = run(sandbox, code, { timeoutMs: 60_000 });
    await delay(200);
    const interruptedAt = performance.now();
    assert.equal(sandbox.interrupt(), true);
    const result = await pending;
    const took = performance.now() - interruptedAt;
    assert.equal(result.error!.type, "KeyboardInterrupt", code);
    assert.equal(result.state_preserved, true);
    // Latency is the benchmark's business; here it only has to be far below the sleep's 100 s.
    assert.ok(took < 5000, `${code}: the interrupt took ${took} ms`);
  }
  assert.equal(sandbox.interrupt(), false, "nothing runs any more");
});

test("time.sleep sleeps without burning CPU", async () => {
  // In a process of its own: the process's CPU is then this interpreter's alone.
  const sandbox = await runtime.start();
  after(() => sandbox.close());
  // What the fresh process spends meanwhile anyway (V8 tiering its code up in the background).
  const idleStart = await cpuSeconds(sandbox.pid!);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = (await cpuSeconds(sandbox.pid!)) - idleStart;
  const before = await cpuSeconds(sandbox.pid!);
  const result = await run(sandbox, "import time\nt = time.monotonic()\ntime.sleep(1)\ntime.monotonic() - t");
  const used = (await cpuSeconds(sandbox.pid!)) - before;
  assert.ok(Number(result.value) >= 0.99, `slept ${result.value} s`);
  assert.ok(used - idle < 0.3, `sleeping 1 s used ${used} s of CPU (idle: ${idle} s)`);
});

test("a cell that defeats the interrupt is killed; the session continues on a fresh interpreter", async () => {
  const exits: string[] = [];
  const interpreter = new Interpreter(runtime.sourceFor({ tenant: "test", user: "test" }), (exit) => exits.push(exit.cause));
  await interpreter.execute({ code: "lost = 1", timeoutMs: 5000, locals: "none" });
  const result = await interpreter.execute({
    code: "import time\nprint('before')\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass",
    timeoutMs: 300,
    locals: "none",
  });
  assert.equal(result.success, false);
  assert.equal(result.error!.type, "TimeoutError");
  assert.match(result.error!.message, /restarted, so every variable of the session is gone/);
  assert.equal(result.state_preserved, false);
  assert.equal(result.stdout, "before\n", "output from before the kill is kept");
  assert.deepEqual(exits, ["timeout"]);
  const next = await interpreter.execute({ code: "'lost' in globals()", timeoutMs: 5000, locals: "none" });
  assert.equal(next.value, "False");
  assert.equal(next.execution_count, 1);
  await interpreter.close();
});

test("an ignored explicit interrupt kills with KeyboardInterrupt and state_preserved false", async () => {
  const sandbox: Sandbox = await runtime.pool.take();
  const pending = run(sandbox, "while True:\n    try:\n        while True: pass\n    except KeyboardInterrupt:\n        pass", { timeoutMs: 60_000 });
  await delay(100);
  sandbox.interrupt();
  const result = await pending;
  assert.equal(result.error!.type, "KeyboardInterrupt");
  assert.equal(result.state_preserved, false);
  assert.equal((await sandbox.exited).cause, "interrupted");
});

test("reset gives the same interpreter a fresh sandbox", async () => {
  const interpreter = new Interpreter(runtime.sourceFor({ tenant: "test", user: "test" }));
  await interpreter.execute({ code: "before_reset = 1", timeoutMs: 5000, locals: "none" });
  await interpreter.reset();
  const result = await interpreter.execute({ code: "'before_reset' in globals()", timeoutMs: 5000, locals: "none" });
  assert.equal(result.value, "False");
  await interpreter.close();
});

test("a sandbox that dies between cells: the next cell says the state is gone", async () => {
  const interpreter = new Interpreter(runtime.sourceFor({ tenant: "test", user: "test" }));
  await interpreter.execute({ code: "before = 1", timeoutMs: 5000, locals: "none" });
  const pid = interpreter.live!.pid!;
  const exited = interpreter.live!.exited;
  process.kill(pid, "SIGKILL");
  await exited;
  const next = await interpreter.execute({ code: "'before' in globals()", timeoutMs: 5000, locals: "none" });
  assert.equal(next.value, "False");
  assert.equal(next.state_preserved, false);
  const after = await interpreter.execute({ code: "1", timeoutMs: 5000, locals: "none" });
  assert.equal(after.state_preserved, true, "said once");
  await interpreter.close();
});

test("interrupts reach only a cell's own code: the server's Python around it (an add_context's decoding, a result) goes on", async () => {
  const sandbox = await runtime.pool.take();
  // Sent by hand, as the host's repeats of an interrupt can arrive after their cell ended.
  const interrupt = () => (sandbox as unknown as { channel: { send(message: { type: "interrupt" }): void } }).channel.send({ type: "interrupt" });
  const payload = JSON.stringify(Array.from({ length: 400_000 }, (_, index) => ({ index, name: `item ${index}` })));
  const repeating = setInterval(interrupt, 5);
  try {
    assert.equal(await sandbox.addContext("context", 0, payload, true), null, "decoding a payload is not interrupted");
    const result = await run(sandbox, "big = {str(i): list(range(50)) for i in range(2000)}\nlen(context_0)", { locals: "all" });
    // The cell itself may have been interrupted: what matters is that the interpreter lives on.
    assert.equal(result.state_preserved, true, JSON.stringify(result.error));
  } finally {
    clearInterval(repeating);
  }
  assert.equal((await run(sandbox, "len(context_0)")).value, "400000");
  await sandbox.close();
});
