// The model a cell names in llm_query(model=...) is Python's free choice: as a metric label it
// would make the label set unbounded, so only configured models are labelled by name.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { startScriptedLlm } from "../helpers/scripted-llm.ts";
import { startTestServer } from "../helpers/server.ts";

const llm = await startScriptedLlm();
const server = await startTestServer({ LLM_API_KEY: "sk-test-label", LLM_BASE_URL: llm.url, LLM_MODEL: "root-model", LLM_SUB_MODEL: "sub-model" });

test("calls to configured models are labelled by name; any other model a cell names is \"other\"", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token() });
  const chosen = Array.from({ length: 5 }, (_, index) => `made-up-model-${index}`);
  const code = [`llm_query("a", model="root-model")`, `llm_query("b")`, ...chosen.map((model) => `llm_query("c", model=${JSON.stringify(model)})`)].join("\n");
  // The call without a model uses LLM_SUB_MODEL: a session's own calls are at depth 1.
  assert.equal((await session.execute(code)).error, null);
  await session.close();
  assert.deepEqual(llm.requests.slice(-chosen.length).map((request) => request.model), chosen, "the call itself goes to the model asked for");
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const labelled = [...metrics.matchAll(/^wasm_repl_llm_calls_total\{model="([^"]*)",outcome="ok"\} (\d+)$/gm)].map(([, model, count]) => [model, Number(count)]);
  assert.deepEqual(Object.fromEntries(labelled), { "root-model": 1, "sub-model": 1, other: chosen.length });
  assert.doesNotMatch(metrics, /made-up-model/);
});
