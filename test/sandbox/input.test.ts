// input() and getpass() in a cell: the host asks the client (CellRequest.input) while the cell
// waits; an interrupt or the deadline ends the wait, and without a way to ask they fail at once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { INPUT_CAPS } from "../../server/sandbox/ipc.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const runtime = await startTestRuntime({ poolSize: 1 });
const sandbox = await runtime.pool.take();

/** An input handler that never answers; `asked` resolves with each question it got. */
function unanswered() {
  const questions: [string, boolean][] = [];
  let notify!: () => void;
  const asked = new Promise<void>((resolve) => (notify = resolve));
  return { questions, asked, input: (prompt: string, password: boolean) => (questions.push([prompt, password]), notify(), new Promise<string>(() => {})) };
}

test("input() and getpass() return the host's answers, asked after the output written before them", async () => {
  const events: string[] = [];
  const result = await run(sandbox, "import getpass\nprint('before', end='')\nname = input('name? ')\nsecret = getpass.getpass()\nname, secret, input()", {
    onOutput: (_name, text) => events.push(`out ${text}`),
    input: async (prompt, password) => (events.push(`ask ${prompt} ${password}`), password ? "hunter2" : `answer ${events.length}`),
  });
  assert.equal(result.error, null, JSON.stringify(result.error));
  assert.deepEqual(events, ["out before", "ask name?  false", "ask Password:  true", "ask  false"]);
  assert.equal(result.value, "('answer 2', 'hunter2', 'answer 4')");
  assert.equal(result.stdout, "before", "neither the prompt nor the answer is written to stdout");
});

test("without a way to ask, input() raises EOFError at once", async () => {
  const result = await run(sandbox, "input('? ')");
  assert.equal(result.error?.type, "EOFError");
  assert.equal(result.error?.message, "input() is not available: this client cannot answer it");
});

test("an answer that fails or is too long is an EOFError", async () => {
  const failed = await run(sandbox, "input()", { input: async () => Promise.reject(new Error("the client left")) });
  assert.equal(failed.error?.type, "EOFError");
  assert.equal(failed.error?.message, "input() got no answer: the client left");
  const long = await run(sandbox, "input()", { input: async () => "x".repeat(INPUT_CAPS.answerChars + 1) });
  assert.equal(long.error?.type, "EOFError");
  assert.match(long.error!.message, /the answer is over \d+ characters/);
});

test("a long prompt reaches the host cut to its cap", async () => {
  let asked = "";
  await run(sandbox, "input('p' * 100_000)", { input: async (prompt) => ((asked = prompt), "") });
  assert.ok(asked.startsWith("p".repeat(INPUT_CAPS.promptChars)) && asked.length < INPUT_CAPS.promptChars + 64, `a prompt of ${asked.length}`);
});

test("an interrupt ends a wait for input with KeyboardInterrupt; the session keeps its variables", async () => {
  await run(sandbox, "kept = 'still here'");
  const waiting = unanswered();
  const pending = run(sandbox, "input('waiting? ')", { timeoutMs: 60_000, input: waiting.input });
  await waiting.asked;
  assert.equal(sandbox.interrupt(), true);
  const result = await pending;
  assert.equal(result.error?.type, "KeyboardInterrupt");
  assert.equal(result.state_preserved, true);
  assert.deepEqual(waiting.questions, [["waiting? ", false]]);
  assert.equal((await run(sandbox, "kept")).value, "'still here'");
});

test("the cell's deadline ends a wait for input with TimeoutError", async () => {
  const waiting = unanswered();
  const result = await run(sandbox, "input()", { timeoutMs: 300, input: waiting.input });
  assert.equal(result.error?.type, "TimeoutError");
  assert.equal(result.state_preserved, true);
});

test("an answer that comes after its cell was interrupted is dropped, never taken for a later question's", async () => {
  let answerLate!: (text: string) => void;
  let asked!: () => void;
  const wasAsked = new Promise<void>((resolve) => (asked = resolve));
  const pending = run(sandbox, "input()", { timeoutMs: 60_000, input: () => (asked(), new Promise<string>((resolve) => (answerLate = resolve))) });
  await wasAsked;
  sandbox.interrupt();
  assert.equal((await pending).error?.type, "KeyboardInterrupt");
  answerLate("late");
  const next = await run(sandbox, "input()", { input: async () => "fresh" });
  assert.equal(next.value, "'fresh'");
});
