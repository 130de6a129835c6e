import assert from "node:assert/strict";
import { test } from "node:test";
import { checkGuestMessage } from "../../server/sandbox/guest-messages.ts";

test("well-formed guest messages pass, with the worker that sent them", () => {
  const stream = { type: "stream", cell: 1, name: "stdout", text: "hi\n" };
  assert.deepEqual(checkGuestMessage({ ...stream, worker: 3 }), { worker: 3, message: stream });
  assert.deepEqual(checkGuestMessage({ type: "exited", worker: 0 }), { worker: 0, message: { type: "exited" } });
});

test("a message that names no worker is refused", () => {
  assert.match(checkGuestMessage({ type: "stream", cell: 1, name: "stdout", text: "" }) as string, /^stream\.worker must be a whole number/);
  assert.match(checkGuestMessage({ type: "exited", worker: -1 }) as string, /^exited\.worker must be a whole number/);
});

test("a message Python could have shaped is refused field by field", () => {
  assert.match(checkGuestMessage({ type: "fatal", worker: 0, cause: "memory_limit", message: 5 }) as string, /^fatal\.message must be a string; got 5/);
  assert.match(
    checkGuestMessage({ type: "result", worker: 0, cell: 1, success: false, value: null, locals: null, execution_count: 1, execution_time: 0, output_dropped_bytes: 0, error: { type: "X", message: "", traceback: 0 } }) as string,
    /^result\.error has a field that traceback must be a string/,
  );
  assert.match(checkGuestMessage({ type: "stream", worker: 0, cell: 1, name: "stdin", text: "" }) as string, /name must be one of "stdout", "stderr"/);
  assert.match(checkGuestMessage({ type: "launch" }) as string, /unknown message type "launch"/);
  assert.match(checkGuestMessage({ type: "ready", worker: 0, boot_ms: 1, pyodide: "x", extra: 1 }) as string, /extra is an unknown field/);
});
