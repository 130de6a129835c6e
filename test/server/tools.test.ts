// Tools: Python calls a function of the client's (tool_call), the cell waits, and the client's
// tool_result comes back as the call's value or a ToolError. The cell's deadline and an
// interrupt end the wait; a client that went away is a ToolError after TOOL_CLIENT_TIMEOUT.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import type { ToolCallFrame } from "../../protocol/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";
import { setTimeout as delay } from "node:timers/promises";

const server = await startTestServer({ HIBERNATE_AFTER: "1", IDLE_TIMEOUT: "120" });
const token = await server.token();
// A server of its own for the no-client timeout: with the default (30 s) a client reconnecting
// mid-call on a loaded machine is well within it; one second here would race such a reconnect.
const impatient = await startTestServer({ TOOL_CLIENT_TIMEOUT: "1" });
const impatientToken = await impatient.token();

/** Waits, at most a minute (a hang guard, not a speed check), until the session's record says hibernated. */
async function hibernated(id: string): Promise<void> {
  const until = Date.now() + 60_000;
  while ((await server.stores.sessions.get(id))?.state !== "hibernated") {
    assert.ok(Date.now() < until, "the idle session hibernates (HIBERNATE_AFTER 1)");
    await delay(100);
  }
}

test("Python calls a client's tools as plain functions and as tools.<name>, with positional and keyword JSON arguments", async () => {
  const calls: unknown[][] = [];
  const session = await ReplSession.open(server.url, {
    token,
    tools: {
      search: (query: string, options?: { limit?: number }) => {
        calls.push([query, options]);
        return Array.from({ length: options?.limit ?? 1 }, (_, index) => ({ hit: `${query}-${index}` }));
      },
      add: { tool: async (a: number, b: number) => a + b, description: "Adds two numbers." },
    },
  });
  const result = await session.execute("print('before')\nhits = search('cats')\nmore = tools.search('dogs', limit=2)\n(hits, more, add(2, 3), add.__doc__)");
  assert.equal(result.error, null, result.error?.traceback);
  assert.equal(result.value, "([{'hit': 'cats-0'}], [{'hit': 'dogs-0'}, {'hit': 'dogs-1'}], 5, 'Adds two numbers.')");
  assert.equal(result.stdout, "before\n");
  assert.deepEqual(calls, [["cats", undefined], ["dogs", { limit: 2 }]]);
  session.close();
});

test("a tool that throws is a ToolError in Python with its message; an undeclared one is an AttributeError", async () => {
  const session = await ReplSession.open(server.url, { token, tools: { fail: () => { throw new Error("the index is down"); } } });
  const caught = await session.execute("try:\n    fail()\nexcept ToolError as error:\n    message = str(error)\nmessage");
  assert.equal(caught.value, "'the index is down'");
  const missing = await session.execute("tools.nothing()");
  assert.equal(missing.error?.type, "AttributeError");
  assert.match(missing.error!.message, /no tool named 'nothing' is declared \(declared: fail\)/);
  const notJson = await session.execute("fail(object())");
  assert.equal(notJson.error?.type, "TypeError");
  assert.match(notJson.error!.message, /must be JSON values/);
  session.close();
});

test("a tool that never answers ends with the cell's deadline, and one waiting is interrupted; the session goes on and a late answer is dropped", async () => {
  let release: (value: unknown) => void = () => {};
  const session = await ReplSession.open(server.url, { token, tools: { slow: () => new Promise((resolve) => (release = resolve)) } });
  const timedOut = await session.execute("slow()", { timeout: 1 });
  assert.equal(timedOut.success, false);
  assert.match(timedOut.error!.type, /TimeoutError|KeyboardInterrupt/);
  assert.equal(timedOut.state_preserved, true);

  const calledAgain = new Promise<void>((resolve) => session.once("frame", (frame) => frame.type === "tool_call" && resolve()));
  const waiting = session.execute("x = 1\nslow()");
  await calledAgain;
  session.interrupt();
  const interrupted = await waiting;
  assert.equal(interrupted.error?.type, "KeyboardInterrupt");
  release("too late"); // the server answers the late result to this client alone; nothing else happens
  assert.equal((await session.execute("x + 1")).value, "2");
  session.close();
});

test("with no client that answers tools connected, a tool call is a ToolError after TOOL_CLIENT_TIMEOUT, not a hang", async () => {
  const declaring = await RawSocket.connect(impatient.url, "/v1/sessions", impatientToken);
  const id = declaring.welcome.session_id;
  declaring.send({ type: "set_tools", id: "t", tools: [{ name: "lookup" }] });
  assert.equal((await declaring.next("result")).success, true);
  declaring.send({ type: "execute", id: "c", code: "try:\n    lookup('k')\nexcept ToolError as error:\n    print(error)" });
  const call = (await declaring.next("tool_call")) as ToolCallFrame;
  assert.deepEqual([call.id, call.name, call.args, call.kwargs], ["c", "lookup", ["k"], {}]);
  declaring.socket.terminate(); // the only client that could answer is gone

  const watcher = await RawSocket.connect(impatient.url, `/v1/sessions/${id}?since=${call.seq}`, impatientToken);
  const result = await watcher.next("result");
  assert.equal(result.id, "c");
  assert.match(result.stdout, /no client that answers tools was connected for 1 s \(TOOL_CLIENT_TIMEOUT\), so tool lookup got no answer/);
  await watcher.end();
});

test("a client that reconnects while a tool call waits gets it replayed and answers it", async () => {
  const session = await ReplSession.open(server.url, { token, tools: { echo: (value: unknown) => value } });
  // The first connection is cut when the call arrives: the replay brings it to the next one.
  let cut = false;
  session.on("frame", (frame) => {
    if (frame.type === "tool_call" && !cut) {
      cut = true;
      session.connection!.terminate();
    }
  });
  const result = await session.execute("echo({'a': [1, 2.5, None, True]})");
  assert.equal(cut, true);
  assert.equal(result.value, "{'a': [1, 2.5, None, True]}");
  session.close();
});

test("refused declarations: a reserved name, a duplicate, too many tools", async () => {
  const session = await ReplSession.open(server.url, { token });
  await assert.rejects(session.registerTool("llm_query", () => 1), /must not be one of the session's own names/);
  await assert.rejects(session.registerTool("not an identifier", () => 1), /Python identifier/);
  session.close();
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  raw.send({ type: "set_tools", tools: [{ name: "a" }, { name: "a" }] });
  assert.match((await raw.next("error")).message, /names a twice/);
  raw.send({ type: "set_tools", tools: Array.from({ length: 65 }, (_, index) => ({ name: `t${index}` })) });
  assert.match((await raw.next("error")).message, /at most 64 items/);
  raw.send({ type: "tool_result", call_id: "call-0", value: 1, error: "both" });
  assert.match((await raw.next("error")).message, /either value .* or error/);
  raw.send({ type: "tool_result", call_id: "call-0", value: 1 });
  assert.match((await raw.next("error")).message, /no tool call "call-0" is waiting/);
  await raw.end();
});

test("tools survive hibernation (the snapshot carries them) and a reset (the session declares them again)", async () => {
  const session = await ReplSession.open(server.url, { token, tools: { twice: (n: number) => 2 * n } });
  assert.equal((await session.execute("twice(4)")).value, "8");
  await hibernated(session.id);
  assert.equal((await session.execute("twice(5)")).value, "10");
  await session.reset();
  assert.equal((await session.execute("twice(6)")).value, "12");
  await session.unregisterTool("twice");
  const gone = await session.execute("twice(7)");
  assert.equal(gone.error?.type, "NameError");
  session.close();
});
