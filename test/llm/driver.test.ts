// The RLM driver: reading replies, and whole runs against a real session and a scripted root model.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { runRlm } from "../../rlm/driver.ts";
import { openAIChatModel } from "../../rlm/model.ts";
import { finalInText, replBlocks } from "../../rlm/parsing.ts";
import { sessionRepl } from "../../client/rlm/session-repl.ts";
import { promptOf, startScriptedLlm, type ChatRequest } from "../helpers/scripted-llm.ts";
import { startTestServer } from "../helpers/server.ts";

describe("reading a reply", () => {
  test("repl blocks in order; other fences are not code to run", () => {
    const reply = "First:\n```repl\nx = 1\n```\nnot this:\n```python\ny = 2\n```\n```repl\nprint(x)\n```";
    assert.deepEqual(replBlocks(reply), ["x = 1", "print(x)"]);
  });

  test("FINAL is greedy and line-anchored; FINAL_VAR comes first and names a variable", () => {
    assert.deepEqual(finalInText("Done.\nFINAL(the answer is f(x) (roughly))\n"), { answer: "the answer is f(x) (roughly)" });
    assert.equal(finalInText("I will call FINAL(x) later"), null);
    assert.deepEqual(finalInText("  FINAL_VAR('result')\nFINAL(other)"), { variable: "result" });
    assert.equal(finalInText("no answer here"), null);
  });
});

const CONTEXT = ["alpha notes: nothing here", "beta notes: the code is 7351", "gamma notes: nothing either"].join("\n\n");

/** A root model that explores, delegates to llm_query per chunk, and answers with FINAL_VAR; sub-calls look for the code. */
function rootScript(turns: string[]) {
  return (request: ChatRequest) => {
    if (request.messages[0]?.role !== "system") {
      const match = /the code is (\d+)/.exec(promptOf(request));
      return match ? `CODE-${match[1]}` : "none";
    }
    const turn = request.messages.filter((message) => message.role === "assistant").length;
    return turns[Math.min(turn, turns.length - 1)]!;
  };
}

const TURNS = [
  "Look first.\n```repl\nprint(type(context).__name__, len(context))\n```",
  "```repl\nchunks = context.split('\\n\\n')\nfound = llm_query_batched([f'find the code in: {c}' for c in chunks])\nprint(found)\n```\nFINAL_VAR(missing_yet)",
  "```repl\ncode = [f for f in found if f != 'none'][0]\n```\nFINAL_VAR(code)",
];

const llm = await startScriptedLlm(rootScript(TURNS));
const server = await startTestServer({ LLM_API_KEY: "sk-server", LLM_BASE_URL: llm.url, TENANT_OPEN_RATE: "1000" });
const token = await server.token();
const rootModel = openAIChatModel({ apiKey: "sk-client", baseUrl: llm.url, timeoutMs: 10_000 });

test("a whole run: repl blocks read the context, llm_query reads chunks, FINAL_VAR answers", async () => {
  llm.script = rootScript(TURNS);
  const session = await ReplSession.open(server.url, { token });
  const run = await runRlm({ repl: sessionRepl(session), model: rootModel, modelName: "root", context: CONTEXT, question: "What is the code?" });
  assert.equal(run.answer, "CODE-7351");
  assert.equal(run.forced, false);
  assert.equal(run.iterations.length, 3, "FINAL_VAR of a variable that does not exist yet does not end the run");
  assert.equal(run.iterations[0]!.blocks[0]!.output.stdout, `str ${CONTEXT.length}\n`);
  assert.equal(run.iterations[1]!.blocks[0]!.output.stdout, "['none', 'CODE-7351', 'none']\n");
  assert.equal(run.usage.calls, 3 + 3, "three root turns and three sub-calls");
  assert.ok(run.usage.promptTokens > 0 && run.usage.completionTokens > 0);
  const roots = llm.requests.filter((request) => request.messages[0]?.role === "system");
  assert.equal(roots[0]!.authorization, "Bearer sk-client", "the root model is called from the client");
  assert.match(roots[2]!.messages.map((message) => message.content).join("\n"), /REPL output:\n\['none', 'CODE-7351', 'none'\]/);
  assert.match(promptOf(roots[0]!), /What is the code\?/);
  await session.close();
});

test("a run that never answers stops after its iterations with one forced answer", async () => {
  llm.script = rootScript(["```repl\nprint('still looking')\n```", "```repl\nprint('still looking')\n```", "FINAL(gave up: no code (sorry))"]);
  const session = await ReplSession.open(server.url, { token });
  const run = await runRlm({ repl: sessionRepl(session), model: rootModel, modelName: "root", context: CONTEXT, maxIterations: 2 });
  assert.equal(run.forced, true);
  assert.equal(run.iterations.length, 2);
  assert.equal(run.answer, "gave up: no code (sorry)");
  await session.close();
});

test("npx wasm-repl rlm --context FILE QUESTION prints the answer", async () => {
  llm.script = rootScript(TURNS);
  const directory = mkdtempSync(join(tmpdir(), "wasm-repl-rlm-"));
  const file = join(directory, "notes.txt");
  writeFileSync(file, CONTEXT);
  const child = spawn(process.execPath, [join(import.meta.dirname, "../../client/bin.mjs"), "rlm", server.url, "--context", file, "What is the code?"], {
    env: { ...process.env, WASM_REPL_TOKEN: token, LLM_API_KEY: "sk-cli", LLM_BASE_URL: llm.url, LLM_MODEL: "cli-root" },
  });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.equal(stdout, "CODE-7351\n");
  assert.equal(llm.requests.at(-1)!.model, "cli-root");
});
