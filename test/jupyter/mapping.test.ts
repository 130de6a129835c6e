// The Jupyter door's pure parts, without a server: kernel ids, both framings (checked against
// JupyterLab's own serializer), requests read from messages, history queries, and how a cell's
// end reads as Jupyter outputs and replies. Bad input is a problem to answer, never a throw.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deserialize, serialize } from "@jupyterlab/services/lib/kernel/serialize.js";
import { decode, encode, framingOf, JUPYTER_SUBPROTOCOL, subprotocolFor } from "../../server/jupyter/framing.ts";
import { globMatches, globTokens, historyEntries } from "../../server/jupyter/history.ts";
import { kernelIdOf, sessionIdOf } from "../../server/jupyter/kernel-ids.ts";
import { channelFor, kernelMessage, replyType } from "../../server/jupyter/messages.ts";
import { introspectionReply } from "../../server/jupyter/introspection.ts";
import { displayed, ranCell, refusedCell } from "../../server/jupyter/outputs.ts";
import { parseRequest } from "../../server/jupyter/requests.ts";
import { resultWithoutRun, type CellResult } from "../../server/sandbox/sandbox.ts";

const sender = { session: "kernel-session", username: "alice" };
const request = { msg_id: "m1", msg_type: "execute_request", session: "client", username: "u", date: 1700000000.5, version: "5.3" };

test("a kernel id is its session's id in the UUID shape, either form accepted back", () => {
  const session = "0123456789abcdef0123456789abcdef";
  const kernel = kernelIdOf(session);
  assert.equal(kernel, "01234567-89ab-cdef-0123-456789abcdef");
  assert.equal(sessionIdOf(kernel), session);
  assert.equal(sessionIdOf(session), session);
  assert.equal(sessionIdOf(kernel.toUpperCase()), session);
  for (const bad of ["", "xyz", "01234567-89abcdef-0123-456789abcdef", `${kernel}0`, "g".repeat(32)]) assert.equal(sessionIdOf(bad), null, bad);
});

test("the legacy framing is JSON with the header's msg_id and msg_type at the top, as jupyter-server's gateway client reads it", () => {
  const message = kernelMessage(sender, "iopub", "stream", { name: "stdout", text: "hi\n" }, request);
  const wire = JSON.parse(encode(message, "json") as string);
  assert.equal(wire.channel, "iopub");
  assert.equal(wire.msg_id, message.header.msg_id);
  assert.equal(wire.msg_type, "stream");
  assert.deepEqual(wire.parent_header, request, "the request's header goes back as it came, its numeric date included");
  assert.deepEqual(wire.buffers, []);
  assert.equal(wire.header.version, "5.3");
  assert.equal(wire.header.session, "kernel-session");
  assert.ok(!Number.isNaN(Date.parse(wire.header.date)));
});

test("the v1 subprotocol's binary framing reads and writes as @jupyterlab/services does", () => {
  assert.equal(subprotocolFor(new Set([JUPYTER_SUBPROTOCOL])), JUPYTER_SUBPROTOCOL);
  assert.equal(subprotocolFor(new Set(["other"])), false);
  assert.equal(framingOf(JUPYTER_SUBPROTOCOL), "v1");
  assert.equal(framingOf(""), "json");

  const ours = kernelMessage(sender, "shell", "execute_reply", { status: "ok", execution_count: 3, text: "héllo ✓" }, request);
  const bytes = encode(ours, "v1") as Buffer;
  const theirs = deserialize(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, JUPYTER_SUBPROTOCOL);
  assert.equal(theirs.channel, "shell");
  assert.deepEqual(theirs.header, ours.header);
  assert.deepEqual(theirs.parent_header, request);
  assert.deepEqual(theirs.content, ours.content);

  const sent = { channel: "shell", header: { ...request, msg_type: "complete_request" }, parent_header: {}, metadata: {}, content: { code: "pri", cursor_pos: 3 }, buffers: [] };
  const frame = Buffer.from(serialize(sent as never, JUPYTER_SUBPROTOCOL) as ArrayBuffer);
  const decoded = decode(frame, true, "v1");
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.problem);
  assert.equal(decoded.message.channel, "shell");
  assert.deepEqual(decoded.message.content, { code: "pri", cursor_pos: 3 });
});

test("a frame without a channel (nbclient's gateway client) and the legacy binary framing are read", () => {
  const plain = decode(Buffer.from(JSON.stringify({ header: { ...request, msg_type: "shutdown_request" }, content: { restart: false } })), false, "json");
  assert.ok(plain.ok);
  assert.equal(plain.message.channel, null);
  assert.equal(channelFor(plain.message.channel, plain.message.header.msg_type), "control");
  assert.equal(channelFor(null, "input_reply"), "stdin");
  assert.equal(channelFor(null, "execute_request"), "shell");
  assert.equal(channelFor("control", "execute_request"), "control");

  const withBuffers = { channel: "shell", header: { ...request, msg_type: "comm_msg" }, parent_header: {}, metadata: {}, content: { comm_id: "c" }, buffers: [new Uint8Array([1, 2, 3]).buffer] };
  const legacy = decode(Buffer.from(serialize(withBuffers as never) as ArrayBuffer), true, "json");
  assert.ok(legacy.ok, legacy.ok ? "" : legacy.problem);
  assert.equal(legacy.message.header.msg_type, "comm_msg");
});

test("bad frames are problems to answer, with the header when it could be read", () => {
  const problem = (data: Buffer, isBinary = false, framing: "json" | "v1" = "json") => {
    const decoded = decode(data, isBinary, framing);
    assert.equal(decoded.ok, false);
    return decoded as Extract<typeof decoded, { ok: false }>;
  };
  assert.match(problem(Buffer.from("{not json")).problem, /not valid JSON/);
  assert.match(problem(Buffer.from("[1]")).problem, /JSON object/);
  assert.match(problem(Buffer.from([0xff, 0xfe])).problem, /UTF-8/);
  assert.match(problem(Buffer.from("[".repeat(100) + "]".repeat(100))).problem, /deeper than 64/);
  assert.match(problem(Buffer.from(JSON.stringify({ content: {} }))).problem, /no header/);
  assert.match(problem(Buffer.from(JSON.stringify({ header: { msg_id: "", msg_type: "x" } }))).problem, /msg_id/);
  const wrongChannel = problem(Buffer.from(JSON.stringify({ channel: "iopub", header: request })));
  assert.match(wrongChannel.problem, /channel/);
  assert.equal(wrongChannel.header?.msg_id, "m1");
  const wrongContent = problem(Buffer.from(JSON.stringify({ header: request, content: [1] })));
  assert.match(wrongContent.problem, /content must be a JSON object/);
  assert.equal(wrongContent.header?.msg_type, "execute_request");

  assert.match(problem(Buffer.alloc(4), true, "v1").problem, /too short/);
  const huge = Buffer.alloc(64);
  huge.writeBigUInt64LE(2n ** 60n, 0);
  assert.match(problem(huge, true, "v1").problem, /claims/);
  const outside = Buffer.alloc(8 * 7);
  outside.writeBigUInt64LE(6n, 0);
  outside.writeBigUInt64LE(10_000n, 8);
  assert.match(problem(outside, true, "v1").problem, /outside/);
  const legacyBad = Buffer.alloc(12);
  legacyBad.writeUInt32BE(1_000_000, 0);
  assert.match(problem(legacyBad, true, "json").problem, /claims/);
});

test("requests are read with Jupyter's defaults, and a wrong field is named", () => {
  assert.deepEqual(parseRequest("execute_request", { code: "1", user_expressions: {}, newer_field: 1 }), {
    ok: true,
    request: { type: "execute", code: "1", silent: false, storeHistory: true, stopOnError: true, allowStdin: true },
  });
  const silent = parseRequest("execute_request", { code: "1", silent: true, store_history: true });
  assert.ok(silent.ok && silent.request.type === "execute" && silent.request.storeHistory === false, "a silent cell is never stored");
  assert.deepEqual(parseRequest("complete_request", { code: "pri" }), { ok: true, request: { type: "complete", code: "pri", cursor: 3 } });
  assert.deepEqual(parseRequest("inspect_request", { code: "len", cursor_pos: 99, detail_level: 1 }), { ok: true, request: { type: "inspect", code: "len", cursor: 3, detail: 1 } });
  assert.deepEqual(parseRequest("history_request", { hist_access_type: "tail", output: false, raw: true }), { ok: true, request: { type: "history", output: false, query: { access: "tail", n: 10 } } });
  assert.deepEqual(parseRequest("shutdown_request", {}), { ok: true, request: { type: "shutdown", restart: false } });
  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ["execute_request", {}, /code must be a string; it is missing/],
    ["execute_request", { code: 1 }, /code must be a string/],
    ["execute_request", { code: "", silent: "yes" }, /silent must be true or false/],
    ["complete_request", { code: "", cursor_pos: -1 }, /cursor_pos must be a whole number/],
    ["inspect_request", { code: "", detail_level: 2 }, /detail_level must be one of 0, 1/],
    ["history_request", { hist_access_type: "all" }, /hist_access_type must be one of/],
    ["input_reply", {}, /value must be a string/],
    ["frobnicate_request", {}, /does not answer "frobnicate_request"/],
  ];
  for (const [type, content, expected] of refusals) {
    const parsed = parseRequest(type, content);
    assert.ok(!parsed.ok && expected.test(parsed.problem), `${type} ${JSON.stringify(content)}: ${JSON.stringify(parsed)}`);
  }
  assert.equal(replyType("complete_request"), "complete_reply");
  assert.equal(replyType("comm_open"), "comm_open_reply");
});

test("history answers tail, range and search from the inputs, outputs as null", () => {
  const inputs = [
    { execution_count: 1, code: "x = 1" },
    { execution_count: 2, code: "print(x)" },
    { execution_count: 3, code: "x = 1" },
    { execution_count: 4, code: "y = x + 1" },
  ];
  assert.deepEqual(historyEntries(inputs, { access: "tail", n: 2 }, false), [[1, 3, "x = 1"], [1, 4, "y = x + 1"]]);
  assert.deepEqual(historyEntries(inputs, { access: "tail", n: 1 }, true), [[1, 4, ["y = x + 1", null]]]);
  assert.deepEqual(historyEntries(inputs, { access: "tail", n: 0 }, false), []);
  assert.deepEqual(historyEntries(inputs, { access: "range", session: 1, start: 2, stop: 4 }, false), [[1, 2, "print(x)"], [1, 3, "x = 1"]]);
  assert.deepEqual(historyEntries(inputs, { access: "range", session: 0, start: 4, stop: null }, false), [[1, 4, "y = x + 1"]]);
  assert.deepEqual(historyEntries(inputs, { access: "range", session: -1, start: 0, stop: null }, false), []);
  assert.deepEqual(historyEntries(inputs, { access: "search", pattern: "x*", n: null, unique: false }, false), [[1, 1, "x = 1"], [1, 3, "x = 1"]]);
  assert.deepEqual(historyEntries(inputs, { access: "search", pattern: "x*", n: null, unique: true }, false), [[1, 3, "x = 1"]]);
  assert.deepEqual(historyEntries(inputs, { access: "search", pattern: "*", n: 1, unique: false }, false), [[1, 4, "y = x + 1"]]);
});

test("history globs match the whole text, with sets, in bounded time", () => {
  const matches = (glob: string, text: string) => globMatches(globTokens(glob), text);
  assert.ok(matches("1?2*", "1+2*3"));
  assert.ok(!matches("1?2", "1+23"));
  assert.ok(matches("[a-c]x", "bx") && !matches("[^a-c]x", "bx") && matches("[]]", "]"));
  assert.ok(matches("[abc", "[abc"), "an unclosed set is literal");
  assert.ok(matches("*é*", "café au lait"));
  // Many stars against a long text that almost matches: linear backtracking, not exponential.
  assert.ok(!matches("*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(20_000)));
});

function result(overrides: Partial<CellResult>): CellResult {
  return { ...resultWithoutRun(null, true), execution_count: 5, ...overrides };
}

test("a cell's result reads as execute_result or error, and its reply", () => {
  const ok = ranCell(result({ success: true, value: "42" }), 4);
  assert.deepEqual(ok.outputs, [{ msgType: "execute_result", content: { execution_count: 5, data: { "text/plain": "42" }, metadata: {} } }]);
  assert.deepEqual(ok.reply, { status: "ok", execution_count: 5, payload: [], user_expressions: {} });
  assert.equal(ok.failed, false);
  assert.deepEqual(ranCell(result({ success: true }), 4).outputs, [], "no value, no execute_result");

  const traceback = 'Traceback (most recent call last):\n  File "<cell-5>", line 1, in <module>\nNameError: name \'y\' is not defined\n';
  const failed = ranCell(result({ success: false, error: { type: "NameError", message: "name 'y' is not defined", traceback } }), 4);
  assert.deepEqual(failed.outputs, [{ msgType: "error", content: { ename: "NameError", evalue: "name 'y' is not defined", traceback: traceback.trimEnd().split("\n") } }]);
  assert.equal(failed.reply.status, "error");
  assert.equal(failed.reply.execution_count, 5);
  assert.equal(failed.failed, true);

  const killed = ranCell({ ...resultWithoutRun({ type: "TimeoutError", message: "cell exceeded 1 s", traceback: "" }, false), output_dropped_bytes: 10 }, 4);
  assert.deepEqual(
    killed.outputs.map((output) => [output.msgType, output.content.name ?? output.content.ename]),
    [["stream", "stderr"], ["stream", "stderr"], ["error", "TimeoutError"]],
    "what Jupyter has no field for is said on stderr",
  );
  assert.deepEqual(killed.outputs.at(-1)!.content.traceback, ["TimeoutError: cell exceeded 1 s"]);
  assert.equal(killed.reply.execution_count, 4, "a cell that never reached the interpreter keeps the session's count");

  const refused = refusedCell("busy", "the session already has 16 cells queued", 7);
  assert.deepEqual(refused.outputs, [{ msgType: "error", content: { ename: "busy", evalue: "the session already has 16 cells queued", traceback: ["busy: the session already has 16 cells queued"] } }]);
  assert.equal(refused.reply.ename, "busy");
});

test("a value's MIME bundle is its execute_result's data; its repr stands in when the bundle was too large", () => {
  const bundle = { "text/plain": "<HTML>", "text/html": "<b>x</b>" };
  assert.deepEqual(ranCell(result({ success: true, value: "<HTML>", data: bundle }), 4).outputs[0]!.content.data, bundle);
  assert.deepEqual(ranCell(result({ success: true, value: "<HTML>", data: null }), 4).outputs[0]!.content.data, { "text/plain": "<HTML>" });
});

test("rich output reads as display_data, or update_display_data under its display_id", () => {
  const base = { type: "display" as const, seq: 1, id: "c", data: { "text/html": "<i>y</i>" }, metadata: { isolated: true } };
  assert.deepEqual(displayed({ ...base, display_id: null, update: false }), { msgType: "display_data", content: { data: base.data, metadata: base.metadata, transient: {} } });
  assert.deepEqual(displayed({ ...base, display_id: "d1", update: true }), { msgType: "update_display_data", content: { data: base.data, metadata: base.metadata, transient: { display_id: "d1" } } });
});

test("introspection answers read as the replies' contents; a refusal as an error, or is_complete's unknown", () => {
  const complete = { type: "complete" as const, code: "pri", cursor: 3 };
  const isComplete = { type: "is_complete" as const, code: "for x in y:" };
  assert.deepEqual(introspectionReply(complete, { reply: { kind: "complete", matches: ["print"], cursor_start: 0, cursor_end: 3 } }), { status: "ok", matches: ["print"], cursor_start: 0, cursor_end: 3, metadata: {} });
  assert.deepEqual(introspectionReply({ type: "inspect", code: "zip", cursor: 3, detail: 0 }, { reply: { kind: "inspect", found: false, data: {} } }), { status: "ok", found: false, data: {}, metadata: {} });
  assert.deepEqual(introspectionReply(isComplete, { reply: { kind: "is_complete", status: "incomplete", indent: "    " } }), { status: "incomplete", indent: "    " });
  assert.deepEqual(introspectionReply(isComplete, { reply: { kind: "is_complete", status: "complete", indent: "" } }), { status: "complete" });
  const busy = { error: { code: "busy" as const, message: "the queue is full" } };
  assert.deepEqual(introspectionReply(complete, busy), { status: "error", ename: "busy", evalue: "the queue is full", traceback: ["busy: the queue is full"] });
  assert.deepEqual(introspectionReply(isComplete, busy), { status: "unknown" });
});
