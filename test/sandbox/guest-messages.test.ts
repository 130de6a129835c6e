import assert from "node:assert/strict";
import { test } from "node:test";
import { guestMessageChecker } from "../../server/sandbox/guest-messages.ts";
import { RESULT_CAPS } from "../../server/sandbox/ipc.ts";

const checkGuestMessage = guestMessageChecker(1024);

test("well-formed guest messages pass", () => {
  const stream = { type: "stream", cell: 1, name: "stdout", text: "hi\n" };
  assert.deepEqual(checkGuestMessage(stream), stream);
});

test("a message Python could have shaped is refused field by field", () => {
  assert.match(checkGuestMessage({ type: "fatal", cause: "memory_limit", message: 5 }) as string, /^fatal\.message must be a string of 0 to \d+ characters; got 5/);
  assert.match(
    checkGuestMessage({ type: "result", cell: 1, success: false, value: null, locals: null, execution_count: 1, execution_time: 0, output_dropped_bytes: 0, truncated: [], error: { type: "X", message: "", traceback: 0 } }) as string,
    /^result\.error has a field that traceback must be a string of 0 to/,
  );
  assert.match(checkGuestMessage({ type: "stream", cell: 1, name: "stdin", text: "" }) as string, /name must be one of "stdout", "stderr"/);
  assert.match(checkGuestMessage({ type: "launch" }) as string, /unknown message type "launch"/);
  assert.match(checkGuestMessage({ type: "ready", boot_ms: 1, pyodide: "x", extra: 1 }) as string, /extra is an unknown field/);
});

const result = { type: "result", cell: 1, success: true, value: null, locals: null, execution_count: 1, execution_time: 0, error: null, output_dropped_bytes: 0, final_answer: null, truncated: [] };

test("strings far past the caps are refused: the guest is not trusted to cut them", () => {
  const huge = "A".repeat(8 * 1024 * 1024);
  assert.match(checkGuestMessage({ ...result, value: huge }) as string, /^result\.value must be a string of 0 to/);
  assert.match(checkGuestMessage({ ...result, success: false, error: { type: "ValueError", message: huge, traceback: "" } }) as string, /^result\.error/);
  assert.match(checkGuestMessage({ ...result, success: false, error: { type: "ValueError", message: "", traceback: huge } }) as string, /^result\.error/);
  assert.match(checkGuestMessage({ ...result, locals: { [huge]: 1 } }) as string, /^result\.locals has a name of/);
  assert.match(checkGuestMessage({ ...result, locals: { x: huge } }) as string, /^result is over/);
  assert.match(checkGuestMessage({ ...result, final_answer: huge }) as string, /^result\.final_answer/);
  assert.match(checkGuestMessage({ ...result, truncated: ["everything"] }) as string, /^result\.truncated/);
  assert.match(checkGuestMessage({ type: "stream", cell: 1, name: "stdout", text: "A".repeat(1025) }) as string, /^stream\.text/);
  assert.match(checkGuestMessage({ type: "fatal", cause: "memory_limit", message: huge }) as string, /^fatal\.message/);
});

test("a result at its caps passes", () => {
  const atCaps = { ...result, value: "v".repeat(RESULT_CAPS.stringChars) + "... (5 more characters)", truncated: ["value"] };
  assert.deepEqual(checkGuestMessage(atCaps), atCaps);
});
