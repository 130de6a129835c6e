import assert from "node:assert/strict";
import { test } from "node:test";
import { guestMessageChecker } from "../../server/sandbox/guest-messages.ts";
import { FILE_CAPS, RESULT_CAPS } from "../../server/sandbox/ipc.ts";

const checker = guestMessageChecker(1024);
/** Checks a message as worker 0 of its process sent it. */
const checkGuestMessage = (message: Record<string, unknown>) => {
  const checked = checker({ ...message, worker: 0 });
  return typeof checked === "string" ? checked : checked.message;
};

test("well-formed guest messages pass, with the worker that sent them", () => {
  const stream = { type: "stream", cell: 1, name: "stdout", text: "hi\n" };
  assert.deepEqual(checker({ ...stream, worker: 3 }), { worker: 3, message: stream });
  assert.deepEqual(checker({ type: "exited", worker: 0 }), { worker: 0, message: { type: "exited" } });
});

test("a message that names no worker is refused", () => {
  assert.match(checker({ type: "stream", cell: 1, name: "stdout", text: "" }) as string, /^stream\.worker must be a whole number/);
  assert.match(checker({ type: "exited", worker: -1 }) as string, /^exited\.worker must be a whole number/);
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

const result = { type: "result", cell: 1, success: true, value: null, locals: null, execution_count: 1, execution_time: 0, error: null, output_dropped_bytes: 0, final_answer: null, truncated: [], data: null };

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

const display = (message: Record<string, unknown>) => ({ type: "display", cell: 1, message });
const shown = { kind: "display", data: { "text/plain": "1", "text/html": "<b>1</b>", "application/vnd.x+json": { a: [1] } }, metadata: {}, display_id: null, update: false };

test("display messages pass in their two kinds, bounded by the output cap", () => {
  assert.deepEqual(checkGuestMessage(display(shown)), display(shown));
  assert.deepEqual(checkGuestMessage(display({ kind: "clear_output", wait: true })), display({ kind: "clear_output", wait: true }));
  assert.match(checkGuestMessage(display({ kind: "clear_output", wait: true, data: {} })) as string, /^display\.message has a field that data is an unknown field/);
  assert.match(checkGuestMessage(display({ kind: "popup" })) as string, /^display\.message kind must be one of "display", "clear_output"/);
  assert.match(checkGuestMessage(display({ ...shown, data: { "text/plain": "A".repeat(1025) } })) as string, /^display\.message must take at most 1024 characters as JSON/);
  assert.match(checkGuestMessage(display({ ...shown, display_id: "i".repeat(1000) })) as string, /display_id must be a string/);
});

test("a bundle's keys are MIME types, its text and images strings", () => {
  assert.match(checkGuestMessage(display({ ...shown, data: { "not a mime": "x" } })) as string, /data has a key that is not a MIME type/);
  assert.match(checkGuestMessage(display({ ...shown, data: { "image/png": [1] } })) as string, /data has image\/png that is not a string/);
  assert.match(checkGuestMessage({ ...result, data: { "text/plain": 5 } }) as string, /^result\.data has text\/plain that is not a string/);
});

test("a result's bundle is bounded by the output cap, not by the result's own cap", () => {
  const withData = { ...result, value: "'x'", data: { "text/plain": "'x'" } };
  assert.deepEqual(checkGuestMessage(withData), withData);
  assert.match(checkGuestMessage({ ...result, data: { "text/plain": "A".repeat(1025) } }) as string, /^result\.data must take at most 1024 characters as JSON/);
  const large = guestMessageChecker(4 * RESULT_CAPS.resultBytes);
  const atCaps = { ...result, final_answer: "F".repeat(RESULT_CAPS.resultBytes - 1024), data: { "text/plain": "D".repeat(RESULT_CAPS.resultBytes) }, worker: 0 };
  assert.equal(typeof large(atCaps), "object", "a result at its cap with a bundle at the output cap passes");
});

test("an input request's prompt is bounded", () => {
  const asked = { type: "input_request", cell: 1, call: 2, prompt: "name? ", password: false };
  assert.deepEqual(checkGuestMessage(asked), asked);
  assert.match(checkGuestMessage({ ...asked, prompt: "p".repeat(100_000) }) as string, /^input_request\.prompt must be a string of 0 to/);
});

test("introspection replies pass in their three kinds, bounded", () => {
  const reply = (value: Record<string, unknown>) => ({ type: "introspected", cell: 3, reply: value });
  for (const value of [
    { kind: "complete", matches: ["abc"], cursor_start: 0, cursor_end: 2 },
    { kind: "inspect", found: true, data: { "text/plain": "Signature: f()" } },
    { kind: "is_complete", status: "incomplete", indent: "    " },
  ]) {
    assert.deepEqual(checkGuestMessage(reply(value)), reply(value));
  }
  assert.match(checkGuestMessage(reply({ kind: "complete", matches: Array(1001).fill("a"), cursor_start: 0, cursor_end: 0 })) as string, /^introspected\.reply has a field that matches must be a list of at most 1000 items/);
  assert.match(checkGuestMessage(reply({ kind: "inspect", found: true, data: { "text/plain": "d".repeat(1024 * 1024) } })) as string, /data must take at most/);
  assert.match(checkGuestMessage(reply({ kind: "is_complete", status: "unknown", indent: "" })) as string, /status must be one of/);
  assert.match(checkGuestMessage(reply({ kind: "history" })) as string, /^introspected\.reply kind must be one of "complete", "inspect", "is_complete"/);
});

test("file replies pass in their four kinds; a listing is bounded in entries, path lengths and size", () => {
  const reply = (value: Record<string, unknown>) => ({ type: "file_reply", cell: 4, reply: value });
  for (const value of [
    { kind: "done" },
    { kind: "content", bytes: 12 },
    { kind: "listing", files: [{ path: "data/a.csv", size: 3 }], truncated: false },
    { kind: "failed", failure: "full", message: "the session is full" },
  ]) {
    assert.deepEqual(checkGuestMessage(reply(value)), reply(value));
  }
  const listing = (files: unknown[]) => checkGuestMessage(reply({ kind: "listing", files, truncated: true })) as string;
  assert.match(listing(Array(FILE_CAPS.listEntries + 1).fill({ path: "a", size: 1 })), /must be a list of at most 10000 items/);
  assert.match(listing([{ path: "p".repeat(FILE_CAPS.pathChars + 1), size: 1 }]), /path must be a string of 1 to 1024 characters/);
  assert.match(listing([{ path: "a", size: -1 }]), /size must be a whole number/);
  assert.match(listing(Array(2000).fill({ path: "p".repeat(1000), size: 1 })), /must take at most \d+ characters as JSON/);
  assert.match(checkGuestMessage(reply({ kind: "failed", failure: "gone", message: "" })) as string, /failure must be one of "missing", "not_a_file", "too_large", "full"/);
  assert.match(checkGuestMessage(reply({ kind: "content" })) as string, /bytes must be a whole number/);
});
