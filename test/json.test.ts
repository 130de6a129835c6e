// Client JSON is parsed one way, with its nesting bounded before anything recurses over it, and
// error messages quote untrusted values in a bounded preview.
import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonDepth, MAX_JSON_DEPTH, parseClientFrame, parseJson, preview } from "../protocol/index.ts";

/** `[[[...]]]` (or `{"a":{"a":...}}`) this many levels deep: a few KB of text. */
const nested = (depth: number, kind: "array" | "object" = "array") =>
  kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

test("jsonDepth counts brackets outside strings only", () => {
  assert.equal(jsonDepth("1"), 0);
  assert.equal(jsonDepth('{"a": [1, {"b": []}]}'), 4);
  assert.equal(jsonDepth('"[[[[{{{{"'), 0, "brackets in a string");
  assert.equal(jsonDepth('["\\"[[[", ["\\\\"]]'), 2, "escaped quotes and backslashes keep the string's end right");
  assert.equal(jsonDepth(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH);
  assert.equal(jsonDepth(nested(100_000)), MAX_JSON_DEPTH + 1, "it stops counting past the limit");
});

test("parseJson refuses nesting past MAX_JSON_DEPTH naming the limit, and accepts it up to there", () => {
  assert.deepEqual(parseJson(nested(3)), { ok: true, value: [[[]]] });
  assert.equal(parseJson(nested(MAX_JSON_DEPTH, "object")).ok, true);
  for (const kind of ["array", "object"] as const) {
    const refused = parseJson(nested(MAX_JSON_DEPTH + 1, kind));
    assert.equal(refused.ok, false);
    assert.match((refused as { message: string }).message, /deeper than 64 levels \(MAX_JSON_DEPTH\)/);
  }
  assert.match((parseJson("{not json") as { message: string }).message, /^is not valid JSON/);
});

test("a frame nesting 20,000 levels in any field is refused as bad input, not a stack overflow", () => {
  const deep = nested(20_000);
  const frames = [
    `{"type": ${deep}}`,
    `{"type": "execute", "id": "a", "code": ${deep}}`,
    `{"type": "execute", "id": ${deep}, "code": "1"}`,
    `{"type": "add_context", "payload": ${deep}}`,
    `{"type": "set_vars", "vars": {"x": ${deep}}}`,
    `{"type": "auth", "token": ${nested(20_000, "object")}}`,
    deep,
  ];
  for (const frame of frames) {
    const parsed = parseClientFrame(frame);
    assert.equal(parsed.ok, false, frame.slice(0, 40));
    assert.match((parsed as { message: string }).message, /MAX_JSON_DEPTH/);
  }
});

test("an error message quotes a mistyped value in at most 60 characters, however large", () => {
  const parsed = parseClientFrame(JSON.stringify({ type: "execute", id: "a", code: ["x".repeat(1_000_000), ...Array(100_000).fill({ k: 1 })] }));
  assert.equal(parsed.ok, false);
  assert.match((parsed as { message: string }).message, /^execute\.code must be a string; got \["x{50,}…$/);
});

test("preview is bounded and close to JSON for small values", () => {
  assert.equal(preview({ a: [1, "two", null, true], b: {} }), '{"a":[1,"two",null,true],"b":{}}');
  assert.equal(preview(undefined), "undefined");
  assert.equal(preview([]), "[]");
  let deep: unknown = 0;
  for (let level = 0; level < 100_000; level++) deep = [deep];
  assert.equal(preview(deep), `${"[".repeat(60)}…`);
  const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`key${index}`, index]));
  assert.ok(preview(wide, 20).length <= 21);
});
