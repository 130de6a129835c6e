// A server without an LLM key: llm_query answers an error text that says so.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();

test("without LLM_API_KEY, llm_query says the server has no LLM configured", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token() });
  const result = await session.execute("llm_query('hello'), rlm_query_batched(['a'])");
  const error = "Error: the server has no LLM configured (LLM_API_KEY is not set); llm_query is unavailable";
  assert.equal(result.value, `('${error}', ['${error}'])`);
  assert.deepEqual(result.rlm_calls, []);
  await session.close();
});
