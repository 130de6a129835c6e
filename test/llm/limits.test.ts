// What a session may spend on model calls, and that Python cannot change it: every limit hit
// is an "Error: ..." text naming the limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { promptOf, startScriptedLlm } from "../helpers/scripted-llm.ts";
import { startTestServer } from "../helpers/server.ts";

const llm = await startScriptedLlm();
const server = await startTestServer({
  LLM_API_KEY: "sk-limits",
  LLM_BASE_URL: llm.url,
  LLM_MAX_CALLS: "4",
  LLM_MAX_TOKENS: "60",
  LLM_MAX_CONCURRENCY: "2",
  LLM_TIMEOUT: "1",
  TENANT_MAX_SESSIONS: "32",
  TENANT_OPEN_RATE: "1000",
});
const token = await server.token();

test("calls past LLM_MAX_CALLS are refused, and Python's own way to the host is counted too", async () => {
  llm.script = () => "ok";
  const session = await ReplSession.open(server.url, { token });
  const result = await session.execute(
    [
      "import sys, json",
      "helpers = sys.modules['_wasm_repl']",
      "answers = [llm_query('a'), llm_query('b')]",
      // Going around the helpers, with fields of its own, changes nothing: the host counts and decides.
      "answers.append(json.loads(helpers._host_llm(json.dumps({'prompts': ['c'], 'model': None, 'recursive': False, 'depth': -9, 'max_calls': 10**6}))))",
      "helpers.MAX_BATCH_PROMPTS = 10**9",
      "answers += [llm_query('d'), llm_query('e')]",
      "answers",
    ].join("\n"),
  );
  assert.equal(result.error, null, result.error?.traceback);
  assert.equal(result.value, "['ok', 'ok', ['ok'], 'ok', 'Error: this session has made its maximum of 4 LLM calls (LLM_MAX_CALLS)']");
  assert.equal(result.rlm_calls.length, 4);
  const other = await ReplSession.open(server.url, { token });
  assert.equal((await other.execute("llm_query('own budget')")).value, "'ok'", "the budget is per session");
  await Promise.all([session.close(), other.close()]);
});

test("calls past LLM_MAX_TOKENS are refused with the tokens used", async () => {
  llm.script = () => "ok";
  const session = await ReplSession.open(server.url, { token });
  const result = await session.execute("[llm_query('word ' * 70), llm_query('next')]");
  assert.match(result.value!, /^\['ok', 'Error: this session has used its maximum of 60 LLM tokens \(LLM_MAX_TOKENS, used: 71\)'\]$/);
  await session.close();
});

test("no more than LLM_MAX_CONCURRENCY calls are in flight; a call slower than LLM_TIMEOUT fails naming it", async () => {
  let inFlight = 0;
  let most = 0;
  llm.script = async (request) => {
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, promptOf(request) === "slow" ? 3000 : 150));
    inFlight--;
    return "done";
  };
  const session = await ReplSession.open(server.url, { token });
  const batched = await session.execute("llm_query_batched(['a', 'b', 'c'])");
  assert.equal(batched.value, "['done', 'done', 'done']");
  assert.equal(most, 2);
  const slow = await session.execute("llm_query('slow')");
  assert.equal(slow.value, "'Error: the LLM call exceeded its timeout of 1 s (LLM_TIMEOUT)'");
  assert.equal(slow.rlm_calls[0]!.ok, false);
  await session.close();
});
