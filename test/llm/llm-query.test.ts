// llm_query and friends inside Python, end to end: a real server, real sandboxes, and the real
// `openai` SDK calling a local OpenAI-compatible server the test scripts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { RLM_CALL_TEXT_CHARS } from "../../protocol/index.ts";
import { promptOf, startScriptedLlm } from "../helpers/scripted-llm.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const API_KEY = "sk-test-4c1f9b7e2a6d8053";
const llm = await startScriptedLlm();
const server = await startTestServer({
  POOL_SIZE: "2",
  LLM_API_KEY: API_KEY,
  LLM_BASE_URL: llm.url,
  LLM_MODEL: "root-model",
  TENANT_MAX_SESSIONS: "32",
  TENANT_OPEN_RATE: "1000",
  // Under the 50 MiB payload below, so that the SDK sends it in chunks.
  MAX_FRAME_BYTES: String(16 * 1024 * 1024),
});
const token = await server.token();

async function open(): Promise<ReplSession> {
  return ReplSession.open(server.url, { token });
}

test("a session opened with rlmCallText records each call's prompt and response text, cut to RLM_CALL_TEXT_CHARS", async () => {
  llm.script = (request) => `answer to ${promptOf(request).slice(0, 20)}`;
  const session = await ReplSession.open(server.url, { token, rlmCallText: true });
  const result = await session.execute(`llm_query("short one"), llm_query("x" * ${RLM_CALL_TEXT_CHARS + 5})`);
  assert.equal(result.error, null, result.error?.traceback);
  const [short, long] = result.rlm_calls;
  assert.equal(short!.prompt, "short one");
  assert.equal(short!.response, "answer to short one");
  assert.equal(long!.prompt, `${"x".repeat(RLM_CALL_TEXT_CHARS)}... (5 more characters)`);
  assert.equal(long!.response, `answer to ${"x".repeat(20)}`);
  session.close();
});

test("llm_query returns the model's text; the result records the call; the key stays on the server", async () => {
  llm.script = (request) => `answer to ${promptOf(request)}`;
  const session = await open();
  const result = await session.execute('reply = llm_query("what is two plus two")\nreply');
  assert.equal(result.error, null);
  assert.equal(result.value, "'answer to what is two plus two'");
  assert.equal(result.rlm_calls.length, 1);
  const [call] = result.rlm_calls;
  assert.deepEqual({ ...call, duration: 0 }, { model: "root-model", prompt_tokens: 5, completion_tokens: 7, duration: 0, depth: 1, ok: true });
  assert.ok(call!.duration > 0);
  assert.equal(llm.requests.at(-1)!.authorization, `Bearer ${API_KEY}`);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /wasm_repl_llm_calls_total\{model="root-model",outcome="ok"\} [1-9]/);
  assert.match(metrics, /wasm_repl_llm_tokens_total\{model="root-model",kind="completion"\} [1-9]/);
  await session.close();
});

test("llm_query_batched answers in the prompts' order, a failing prompt being its own error text", async () => {
  llm.script = (request) => {
    const prompt = promptOf(request);
    if (prompt === "bad") return { status: 400, message: "this prompt is refused" };
    // Later prompts answer first: order must come from the request, not from arrival.
    return { text: prompt.toUpperCase(), delayMs: 200 - Number(prompt.slice(1)) * 40 };
  };
  const session = await open();
  const result = await session.execute('llm_query_batched(["p0", "p1", "bad", "p3", "p4"])');
  assert.equal(result.error, null);
  assert.equal(result.value, "['P0', 'P1', 'Error: the LLM API answered 400: 400 this prompt is refused', 'P3', 'P4']");
  assert.deepEqual(result.rlm_calls.map((call) => call.ok).sort(), [false, true, true, true, true]);
  await session.close();
});

test("failures come back as Error texts, never as exceptions", async () => {
  llm.script = () => ({ status: 500, message: "the model is down" });
  const session = await open();
  const result = await session.execute(
    'down = llm_query("hi")\nbad_model = llm_query("hi", model=5)\nnot_a_list = llm_query_batched("hi")\nstrange_model = llm_query("hi", model="no spaces allowed")\n(down, bad_model, not_a_list, strange_model)',
  );
  assert.equal(result.error, null);
  assert.equal(
    result.value,
    "('Error: the LLM API answered 500: 500 the model is down', 'Error: model must be a string or None', 'Error: prompts must be a list of prompts, not str', 'Error: \"no spaces allowed\" is not a model name')",
  );
  await session.close();
});

test("the API key and the server's variables are invisible inside Python", async () => {
  llm.script = () => "ok";
  const session = await open();
  const result = await session.execute(
    [
      "import os, sys, gc",
      "env = dict(os.environ)",
      "texts = [repr(env)] + [repr(v) for m in list(sys.modules.values()) for v in list(getattr(m, '__dict__', {}).values()) if isinstance(v, (str, bytes))]",
      "texts += [o for o in gc.get_objects() if isinstance(o, str)]",
      `leaked = [t for t in texts if ${JSON.stringify(API_KEY)} in t]`,
      "names = [k for k in env if k.startswith(('LLM', 'JWT', 'REDIS', 'OPENAI'))]",
      "(len(leaked), names, llm_query('still works'))",
    ].join("\n"),
  );
  assert.equal(result.error, null, result.error?.traceback);
  // The code of the cell itself holds the key's text once (the test wrote it there); nothing else does.
  assert.match(result.value!, /^\((0|1), \[\], 'ok'\)$/);
  await session.close();
});

test("an interrupt ends a cell blocked on a slow call, and the session goes on", async () => {
  llm.script = () => ({ text: "too late", delayMs: 30_000 });
  const session = await open();
  await session.execute("kept = 7");
  const controller = new AbortController();
  const started = performance.now();
  const running = session.execute('llm_query("slow")', { signal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  const result = await running;
  assert.equal(result.error?.type, "KeyboardInterrupt");
  assert.equal(result.state_preserved, true);
  assert.ok(performance.now() - started < 10_000);
  const timedOut = await session.execute('llm_query("slow")', { timeout: 0.5 });
  assert.equal(timedOut.error?.type, "TimeoutError");
  assert.equal(timedOut.state_preserved, true);
  llm.script = () => "fast";
  assert.equal((await session.execute('kept, llm_query("again")')).value, "(7, 'fast')");
  await session.close();
});

test("the helpers come back after user code overwrites or deletes them", async () => {
  llm.script = () => "restored";
  const session = await open();
  await session.execute("llm_query = 5\ndel llm_query_batched\nSHOW_VARS = None");
  const result = await session.execute("llm_query('x'), callable(llm_query_batched), SHOW_VARS()");
  assert.equal(result.value, "('restored', True, 'No variables created yet. Use ```repl``` blocks to create variables.')");
  await session.execute("x = 1");
  assert.equal((await session.execute("SHOW_VARS()")).value, "\"Available variables: {'x': 'int'}\"");
  await session.close();
});

test("FINAL_VAR and the answer dict give the cell's final answer", async () => {
  const session = await open();
  await session.execute("total = 6 * 7");
  assert.equal((await session.execute("FINAL_VAR('total')")).final_answer, "42");
  assert.equal((await session.execute("FINAL_VAR({'a': 1})")).final_answer, "{'a': 1}");
  const missing = await session.execute("FINAL_VAR('nothing_here')");
  assert.equal(missing.final_answer, null);
  assert.match(missing.value!, /Error: Variable 'nothing_here' not found\. Available variables: \{'total': 'int'\}/);
  const plain = await session.execute("print('no answer yet')");
  assert.equal(plain.final_answer, null);
  const ready = await session.execute('answer["content"] = "forty-two"\nanswer["ready"] = True\nraise ValueError("after the answer")');
  assert.equal(ready.final_answer, "forty-two");
  assert.equal(ready.error?.type, "ValueError");
  const rebound = await session.execute('answer = {"content": 3, "ready": True}');
  assert.equal(rebound.final_answer, "3");
  assert.equal((await session.execute("type(answer).__name__, answer['content']")).value, "('_AnswerDict', 3)");
  assert.equal((await session.execute("answer = 'not a dict'")).final_answer, null);
  assert.equal((await session.execute("answer")).value, "{'content': '', 'ready': False}");
  await session.close();
});

test("add_context and add_history make context_N and history_N from data, in chunks when large", async () => {
  const session = await open();
  assert.equal((await session.addContext("first document")).success, true);
  assert.equal((await session.addContext({ rows: [1, 2, 3] })).success, true);
  await session.addContext([{ role: "user", content: "hi" }], { history: true });
  await session.addContext("replaced", { index: 5 });
  const result = await session.execute("context, context_0, context_1['rows'], history[0]['content'], history_0 is history, context_5");
  assert.equal(result.value, "('first document', 'first document', [1, 2, 3], 'hi', True, 'replaced')");
  assert.equal((await session.execute("context = 'mine'\ncontext")).value, "'mine'");
  assert.equal((await session.execute("context")).value, "'first document'", "`context` names context_0 again after the cell");

  const raw = await RawSocket.connect(server.url, `/v1/sessions/${session.id}`, token);
  raw.send({ type: "add_context", id: "chunked", payload: "ab", more: true, offset: 0, index: 2 });
  raw.send({ type: "add_context", id: "chunked", payload: "cd", more: true, offset: 2 });
  raw.send({ type: "add_context", id: "chunked", payload: '"e', offset: 4 });
  assert.equal((await raw.next((frame) => frame.type === "result" && frame.id === "chunked")).type, "result");
  raw.send({ type: "add_context", id: "json", payload: '{"k": ', more: true, json: true, index: 3 });
  raw.send({ type: "add_context", id: "json", payload: "[1, 2]}", json: true, offset: 6 });
  await raw.next((frame) => frame.type === "result" && frame.id === "json");
  raw.send({ type: "add_context", id: "lost", payload: "x", more: true, offset: 0 });
  raw.send({ type: "add_context", id: "lost", payload: "z", offset: 2 });
  const lost = await raw.next((frame) => frame.type === "error" && frame.id === "lost");
  assert.equal(lost.type === "error" && lost.code, "bad_request");
  raw.send({ type: "add_context", id: "abandoned", payload: "stale ", more: true, offset: 0 });
  raw.send({ type: "add_context", id: "whole", payload: "fresh", index: 4 });
  await raw.next((frame) => frame.type === "result" && frame.id === "whole");
  raw.send({ type: "add_context", payload: { not: "a chunk" }, more: true });
  const refused = await raw.next("error");
  assert.match(refused.message, /payload must be a string when more or json is set/);
  raw.socket.close();
  const chunks = await session.execute("context_2, context_3, context_4");
  assert.equal(chunks.value, "('abcd\"e', {'k': [1, 2]}, 'fresh')", chunks.error?.traceback);
  await session.close();
});

test("a payload of 50 MiB, over MAX_FRAME_BYTES, arrives through the SDK's chunks intact", async () => {
  const session = await open();
  const big = "0123456789abcdef".repeat((50 * 1024 * 1024) / 16);
  const added = await session.addContext(big, { index: 0 });
  assert.equal(added.success, true);
  const result = await session.execute("len(context), context[-16:], context == '0123456789abcdef' * (len(context) // 16)");
  assert.equal(result.value, `(${big.length}, '0123456789abcdef', True)`);
  await session.close();
});

test("POST /execute shares llm_query, rlm_calls and final_answer", async () => {
  llm.script = (request) => `http says ${promptOf(request)}`;
  const response = await fetch(`${server.url}/execute`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ code: "r = llm_query('hello')\nFINAL_VAR('r')" }),
  });
  const body = (await response.json()) as { success: boolean; final_answer: string; rlm_calls: { model: string; depth: number }[] };
  assert.equal(response.status, 200);
  assert.equal(body.success, true);
  assert.equal(body.final_answer, "http says hello");
  assert.deepEqual(body.rlm_calls.map(({ model, depth }) => ({ model, depth })), [{ model: "root-model", depth: 1 }]);
});
