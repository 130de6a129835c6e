// rlm_query: a child RLM in a child session one level down, until MAX_DEPTH makes it a plain call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { promptOf, startScriptedLlm } from "../helpers/scripted-llm.ts";
import { startTestServer } from "../helpers/server.ts";

/** A child RLM's root model: it alone gets a system prompt. Its one turn uses both kinds of call. */
function childRoot(): string {
  return [
    "I will look at the context.",
    "```repl",
    "word = context.split(': ')[1]",
    "inner = llm_query('shout ' + word)",
    "nested = rlm_query('deeper ' + word)",
    'answer["content"] = inner + "|" + nested',
    'answer["ready"] = True',
    "```",
  ].join("\n");
}

/** Child RLMs whose root model is being asked right now, and the most at once. */
const children = { now: 0, most: 0 };

const llm = await startScriptedLlm(async (request) => {
  if (request.messages[0]?.role === "system") {
    children.most = Math.max(children.most, ++children.now);
    // Held long enough that children allowed to run together overlap here.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    children.now--;
    return childRoot();
  }
  const prompt = promptOf(request);
  if (prompt.startsWith("shout ")) return prompt.slice(6).toUpperCase();
  return `plain: ${prompt}`;
});
const server = await startTestServer({
  POOL_SIZE: "2",
  LLM_API_KEY: "sk-recursion",
  LLM_BASE_URL: llm.url,
  LLM_MODEL: "root-model",
  LLM_SUB_MODEL: "sub-model",
  MAX_DEPTH: "2",
  RLM_MAX_CONCURRENT_CHILDREN: "2",
});

test("rlm_query runs a child RLM at depth 1 whose own rlm_query is a plain call at MAX_DEPTH", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token() });
  const result = await session.execute("rlm_query('task: hello')");
  assert.equal(result.error, null, result.error?.traceback);
  assert.equal(result.value, "'HELLO|plain: deeper hello'");
  const calls = result.rlm_calls.map(({ model, depth, ok }) => ({ model, depth, ok }));
  assert.deepEqual(calls, [
    { model: "sub-model", depth: 1, ok: true }, // the child's root model
    { model: "sub-model", depth: 2, ok: true }, // its llm_query
    { model: "sub-model", depth: 2, ok: true }, // its rlm_query, at the depth limit: plain
  ]);
  const plain = llm.requests.find((request) => promptOf(request) === "deeper hello")!;
  assert.deepEqual(plain.messages.map((message) => message.role), ["user"], "the call at MAX_DEPTH is one plain completion");
  const child = llm.requests.find((request) => request.messages[0]?.role === "system")!;
  assert.match(child.messages[1]!.content, /str of 11 characters/, "the child's context is the prompt");
  await session.close();
});

test("rlm_query_batched runs children concurrently, at most RLM_MAX_CONCURRENT_CHILDREN at once, answers in order", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token() });
  children.most = 0;
  const result = await session.execute("rlm_query_batched(['task: one', 'task: two', 'task: three', 'task: four'])");
  assert.equal(result.value, "['ONE|plain: deeper one', 'TWO|plain: deeper two', 'THREE|plain: deeper three', 'FOUR|plain: deeper four']");
  assert.equal(result.rlm_calls.length, 12);
  assert.ok(children.most >= 1 && children.most <= 2, `${children.most} child RLMs ran at once`);
  await session.close();
});
