// What a run's frames do to its cell (page/src/outputs.ts), without a browser: the same frames,
// live or replayed after a reload, build the same cell.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResultFrame } from "../../protocol/frames.ts";
import { newCell, startRun } from "../../page/src/notebook.ts";
import { applyFrame, resultNotes, type NoteLimits, type RunFrame } from "../../page/src/outputs.ts";

const LIMITS: NoteLimits = { execution_timeout: 30, max_output_bytes: 1024 * 1024, memory_mb: 512 };
const RUN = "cell-1";

function result(fields: Partial<ResultFrame> = {}): ResultFrame {
  return {
    type: "result",
    seq: 9,
    id: RUN,
    success: true,
    stdout: "",
    stderr: "",
    value: null,
    locals: null,
    execution_count: 3,
    execution_time: 0.0042,
    error: null,
    state_preserved: true,
    output_dropped_bytes: 0,
    final_answer: null,
    truncated: [],
    rlm_calls: [],
    data: null,
    ...fields,
  };
}

function run(...frames: RunFrame[]) {
  const cell = newCell("print('hi')");
  startRun(cell, RUN);
  for (const frame of frames) applyFrame(cell, frame, LIMITS);
  return cell;
}

test("streams of one name grow one output; another name starts another", () => {
  const cell = run(
    { type: "stream", seq: 1, id: RUN, name: "stdout", text: "a\n" },
    { type: "stream", seq: 2, id: RUN, name: "stdout", text: "b\n" },
    { type: "stream", seq: 3, id: RUN, name: "stderr", text: "oops\n" },
    { type: "stream", seq: 4, id: RUN, name: "stdout", text: "c\n" },
  );
  assert.deepEqual(cell.outputs, [
    { output_type: "stream", name: "stdout", text: "a\nb\n" },
    { output_type: "stream", name: "stderr", text: "oops\n" },
    { output_type: "stream", name: "stdout", text: "c\n" },
  ]);
  assert.equal(cell.status, "running");
});

test("the result adds the value's bundle, the execution count and the time; its streams are not shown twice", () => {
  const cell = run({ type: "stream", seq: 1, id: RUN, name: "stdout", text: "hi\n" }, result({ stdout: "hi\n", value: "42", data: { "text/plain": "42" } }));
  assert.deepEqual(cell.outputs, [
    { output_type: "stream", name: "stdout", text: "hi\n" },
    { output_type: "execute_result", data: { "text/plain": "42" }, metadata: {}, execution_count: 3 },
  ]);
  assert.equal(cell.execution_count, 3);
  assert.equal(cell.time, 0.0042);
  assert.equal(cell.status, "done");
  assert.deepEqual(cell.notes, []);
});

test("output whose stream frames were lost (a replay gap) comes from the result", () => {
  const cell = run(result({ stdout: "missed\n", stderr: "also\n" }));
  assert.deepEqual(cell.outputs, [
    { output_type: "stream", name: "stdout", text: "missed\n" },
    { output_type: "stream", name: "stderr", text: "also\n" },
  ]);
});

test("an error is an error output with its traceback's lines, and the cell failed", () => {
  const cell = run(result({ success: false, error: { type: "ZeroDivisionError", message: "division by zero", traceback: "Traceback (most recent call last):\n  File \"<cell-1>\", line 1\nZeroDivisionError: division by zero" } }));
  assert.deepEqual(cell.outputs, [{ output_type: "error", ename: "ZeroDivisionError", evalue: "division by zero", traceback: ["Traceback (most recent call last):", '  File "<cell-1>", line 1', "ZeroDivisionError: division by zero"] }]);
  assert.equal(cell.status, "failed");
});

test("a display with an id is replaced where it is by its update; clear_output(wait) clears at the next output", () => {
  const cell = run(
    { type: "display", seq: 1, id: RUN, data: { "text/plain": "0%" }, metadata: {}, display_id: "bar" },
    { type: "stream", seq: 2, id: RUN, name: "stdout", text: "working\n" },
    { type: "display", seq: 3, id: RUN, data: { "text/plain": "100%" }, metadata: {}, display_id: "bar", update: true },
  );
  assert.deepEqual(cell.outputs.map((output) => (output.output_type === "display_data" ? output.data["text/plain"] : output.output_type)), ["100%", "stream"]);
  applyFrame(cell, { type: "clear_output", seq: 4, id: RUN, wait: true }, LIMITS);
  assert.equal(cell.outputs.length, 2, "kept until the next output");
  applyFrame(cell, { type: "stream", seq: 5, id: RUN, name: "stdout", text: "fresh\n" }, LIMITS);
  assert.deepEqual(cell.outputs, [{ output_type: "stream", name: "stdout", text: "fresh\n" }]);
  applyFrame(cell, { type: "clear_output", seq: 6, id: RUN, wait: false }, LIMITS);
  assert.deepEqual(cell.outputs, []);
});

test("input() asks, and the result ends the asking", () => {
  const cell = run({ type: "input_request", seq: 1, id: RUN, prompt: "Name? ", password: true });
  assert.deepEqual(cell.input, { prompt: "Name? ", password: true });
  applyFrame(cell, result(), LIMITS);
  assert.equal(cell.input, null);
});

test("an error frame about the run fails it, saying the server's code and message", () => {
  const cell = run({ type: "error", seq: 1, id: RUN, code: "busy", message: "the queue is full" });
  assert.equal(cell.status, "failed");
  assert.deepEqual(cell.notes, [{ level: "warning", text: "busy: the queue is full" }]);
});

test("a result says plainly which limits it hit and that variables were lost", () => {
  const texts = (fields: Partial<ResultFrame>) => resultNotes(result(fields), LIMITS).map((note) => note.text);
  assert.deepEqual(texts({ state_preserved: false, success: false, error: { type: "MemoryError", message: "the sandbox ended (memory_limit)", traceback: "" } }), [
    "state_preserved: false — the interpreter was restarted, and every variable of earlier cells is gone.",
    "Memory limit reached (512 MiB).",
  ]);
  assert.deepEqual(texts({ success: false, error: { type: "TimeoutError", message: "", traceback: "" } }), ["Stopped at the time limit (30 s)."]);
  assert.deepEqual(texts({ output_dropped_bytes: 2048 }), ["Output limit reached (1.0 MiB): 2.0 KiB of output dropped."]);
  assert.deepEqual(texts({ truncated: ["value", "locals"] }), ["Cut to fit the result's size limits: value, locals."]);
  assert.deepEqual(texts({ success: false, error: { type: "KeyboardInterrupt", message: "", traceback: "" } }), ["Interrupted."]);
  assert.deepEqual(resultNotes(result({ success: false, error: { type: "TimeoutError", message: "", traceback: "" } }), null).map((note) => note.text), ["Stopped at the time limit."], "before the session frame, no figures");
});
