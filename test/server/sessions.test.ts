// Notebook-style sessions end to end: real sockets, real sandboxes, the SDK.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";

// One tenant opens every session here: its quotas are raised above what the tests open.
const server = await startTestServer({ POOL_SIZE: "2", KILL_GRACE_MS: "500", TENANT_MAX_SESSIONS: "32", TENANT_MAX_RUNNING: "32", TENANT_OPEN_RATE: "1000" });
const token = await server.token();

test("variables, functions, classes and imports persist across cells", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.execute("import statistics\nclass Counter:\n    def __init__(self): self.n = 0\n    def bump(self): self.n += 1; return self.n");
  await session.execute("counter = Counter()\ndef twice(): counter.bump(); return counter.bump()");
  const result = await session.execute("twice(), statistics.mean([1, 2, 3])");
  assert.equal(result.success, true);
  assert.equal(result.value, "(2, 2)");
  assert.equal(result.execution_count, 3);
  assert.deepEqual(Object.keys(result.locals!).sort(), ["Counter", "counter", "statistics", "twice"]);
  await session.close();
});

test("output streams before its cell ends", async () => {
  const session = await ReplSession.open(server.url, { token });
  const started = performance.now();
  let firstOutputAt = 0;
  const result = await session.execute("import time\nprint('early', flush=True)\ntime.sleep(0.6)\nprint('late')", {
    onStdout: () => (firstOutputAt ||= performance.now() - started),
  });
  const endedAt = performance.now() - started;
  assert.equal(result.stdout, "early\nlate\n");
  assert.ok(firstOutputAt > 0 && firstOutputAt < endedAt - 500, `first output at ${firstOutputAt} ms, result at ${endedAt} ms`);
  await session.close();
});

test("a timeout interrupts the cell and keeps the session's state", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.execute("kept = 41");
  const timedOut = await session.execute("while True: pass", { timeout: 0.3 });
  assert.equal(timedOut.error!.type, "TimeoutError");
  assert.equal(timedOut.state_preserved, true);
  assert.equal((await session.execute("kept + 1")).value, "42");
  await session.close();
});

test("a cell that defeats the interrupt is killed and the next cell runs on a fresh interpreter", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.execute("doomed = 1");
  const killed = await session.execute("while True:\n    try:\n        while True: pass\n    except KeyboardInterrupt:\n        pass", { timeout: 0.3 });
  assert.equal(killed.state_preserved, false);
  assert.equal(killed.error!.type, "TimeoutError");
  const next = await session.execute("'doomed' in globals()");
  assert.equal(next.value, "False");
  await session.close();
});

test("an aborted execute interrupts the running cell; a queued cell can be cancelled", async () => {
  const session = await ReplSession.open(server.url, { token });
  const controller = new AbortController();
  const running = session.execute("import time\ntime.sleep(30)", { signal: controller.signal });
  const queued = session.execute("never = True", { id: "queued-cell" });
  setTimeout(() => session.interrupt("queued-cell"), 100);
  setTimeout(() => controller.abort(), 200);
  const [interrupted, cancelled] = await Promise.all([running, queued]);
  assert.equal(interrupted.error!.type, "KeyboardInterrupt");
  assert.equal(cancelled.error!.type, "CancelledError");
  assert.equal((await session.execute("'never' in globals()")).value, "False");
  await session.close();
});

test("set_vars and reset", async () => {
  const session = await ReplSession.open(server.url, { token });
  const set = await session.setVars({ config: { depth: 2, names: ["a", "b"] } });
  assert.equal(set.success, true);
  assert.equal((await session.execute("config['names'][config['depth'] - 1]")).value, "'b'");
  const reset = await session.reset();
  assert.equal(reset.state_preserved, false);
  assert.equal((await session.execute("'config' in globals()")).value, "False");
  await session.close();
});

test("20 sessions run at once and cannot see each other's variables", async () => {
  const sessions = await Promise.all(Array.from({ length: 20 }, () => ReplSession.open(server.url, { token })));
  await Promise.all(sessions.map((session, index) => session.execute(`mine = ${index}`)));
  const results = await Promise.all(sessions.map((session) => session.execute("mine, sorted(k for k in globals() if not k.startswith('__'))")));
  // Besides its own variable, each sees only the helpers every session has (llm_query, answer, ...).
  const scaffold = "'FINAL_VAR', 'SHOW_VARS', 'answer', 'llm_query', 'llm_query_batched', 'mine', 'rlm_query', 'rlm_query_batched'";
  results.forEach((result, index) => assert.equal(result.value, `(${index}, [${scaffold}])`));
  await Promise.all(sessions.map((session) => session.close()));
});

test("several connections to one session all receive its frames", async () => {
  const first = await ReplSession.open(server.url, { token });
  const second = await ReplSession.attach(server.url, first.id, { token });
  const seen: string[] = [];
  second.on("frame", (frame) => frame.type === "stream" && seen.push(frame.text));
  await first.execute("print('shared')");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(seen, ["shared\n"]);
  await first.close();
});
