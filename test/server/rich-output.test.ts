// Rich output and input() over protocol v1, end to end with the SDK: display frames in order with
// streams, a result's MIME bundle, input_request answered by onInput.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import type { ClearOutputFrame, DisplayFrame } from "../../protocol/index.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ POOL_SIZE: "1" });
const token = await server.token();

test("display frames arrive while the cell runs, in order with its output; the result carries the value's bundle", async () => {
  const session = await ReplSession.open(server.url, { token });
  const seen: string[] = [];
  const displays: Array<DisplayFrame | ClearOutputFrame> = [];
  const result = await session.execute(
    ["class Card:", "    def _repr_html_(self): return '<i>card</i>'", "print('before')", "display(Card())", "from IPython.display import clear_output", "clear_output(wait=True)", "print('after')", "Card()"].join("\n"),
    { onStdout: (text) => seen.push(`stdout:${text.trim()}`), onDisplay: (frame) => (displays.push(frame), seen.push(frame.type)) },
  );
  assert.equal(result.success, true);
  assert.deepEqual(seen, ["stdout:before", "display", "clear_output", "stdout:after"]);
  const [shown, cleared] = displays;
  assert.ok(shown?.type === "display" && shown.data["text/html"] === "<i>card</i>" && typeof shown.data["text/plain"] === "string");
  assert.ok(cleared?.type === "clear_output" && cleared.wait === true);
  assert.equal(result.data?.["text/html"], "<i>card</i>");
  assert.match(result.value ?? "", /Card object/);
  const plain = await session.execute("1 + 1");
  assert.deepEqual(plain.data, { "text/plain": "2" });
  await session.close();
});

test("input() asks the client, which answers through onInput; a client without onInput leaves it to the interrupt", async () => {
  const session = await ReplSession.open(server.url, { token });
  const prompts: string[] = [];
  const answered = await session.execute("a = input('first? ')\nimport getpass\nb = getpass.getpass('secret? ')\na + b", {
    onInput: async (prompt, password) => (prompts.push(`${prompt}|${password}`), password ? "2" : "1"),
  });
  assert.equal(answered.value, "'12'");
  assert.deepEqual(prompts, ["first? |false", "secret? |true"]);
  const waiting = session.execute("input('never answered')", { id: "waits" });
  await new Promise<void>((resolve) => session.on("frame", (frame) => frame.type === "input_request" && resolve()));
  session.interrupt("waits");
  const interrupted = await waiting;
  assert.equal(interrupted.error?.type, "KeyboardInterrupt");
  assert.equal(interrupted.state_preserved, true);
  await session.close();
});
