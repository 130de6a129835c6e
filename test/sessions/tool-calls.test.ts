// ToolCalls on its own: answers, the no-client timer and the end of a cell.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ToolCallEvent, Unnumbered } from "../../server/sessions/events.ts";
import { silentLogger } from "../../server/log.ts";
import { ToolCalls } from "../../server/sessions/tool-calls.ts";

function calls(clientTimeoutMs: number) {
  const published: Unnumbered<ToolCallEvent>[] = [];
  const tools = new ToolCalls(clientTimeoutMs, (event) => published.push(event), { log: silentLogger });
  return { tools, published, call: tools.forCell("cell-1") };
}

test("a call is published with a fresh call id and resolves with the answer given for that id", async () => {
  const { tools, published, call } = calls(60_000);
  tools.setAnswerers(1);
  const first = call({ name: "search", args: ["q"], kwargs: { limit: 2 } });
  const second = call({ name: "search", args: [], kwargs: {} });
  assert.equal(published.length, 2);
  assert.deepEqual({ ...published[0], callId: "" }, { type: "tool_call", id: "cell-1", callId: "", name: "search", args: ["q"], kwargs: { limit: 2 } });
  assert.notEqual(published[0]!.callId, published[1]!.callId);
  assert.equal(tools.answer(published[1]!.callId, { value: "2" }), null);
  assert.equal(tools.answer(published[0]!.callId, { error: "down" }), null);
  assert.deepEqual(await first, { error: "down" });
  assert.deepEqual(await second, { value: "2" });
  assert.match(tools.answer(published[0]!.callId, { value: "1" })!, /is waiting \(it was answered, or its cell ended\)/);
});

test("with no client that answers, a call ends in an error after the client timeout; one coming back stops the timer", async () => {
  const { tools, published, call } = calls(20);
  const unanswered = await call({ name: "lookup", args: [], kwargs: {} });
  assert.match("error" in unanswered ? unanswered.error : "", /no client that answers tools was connected for 0.02 s \(TOOL_CLIENT_TIMEOUT\), so tool lookup got no answer/);

  const answered = call({ name: "lookup", args: [], kwargs: {} });
  tools.setAnswerers(1); // a client that answers attached before the timer ran out
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(tools.answer(published[1]!.callId, { value: "null" }), null, "still waiting: the timer stopped");
  assert.deepEqual(await answered, { value: "null" });
});

test("the end of the cell answers every call still waiting, and drops their timers", async () => {
  const { tools, published, call } = calls(60_000);
  const waiting = [call({ name: "a", args: [], kwargs: {} }), call({ name: "b", args: [], kwargs: {} })];
  tools.endCell();
  assert.deepEqual(await Promise.all(waiting), [{ error: "the cell ended" }, { error: "the cell ended" }]);
  assert.notEqual(tools.answer(published[0]!.callId, { value: "1" }), null);
});
