// One request must never end the process: each input reported to end it is answered for itself,
// and the server (with its sessions) goes on. The fuzz suite (test/security/fuzz.test.ts)
// throws the same classes of input at it at random.
import assert from "node:assert/strict";
import { constants } from "node:buffer";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { MAX_JSON_DEPTH } from "../../protocol/index.ts";
import { bodyOf, rawExchange } from "../helpers/raw-http.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

/** Frames of 8 MiB, so that an upload past V8's longest string takes 64 of them. */
const CHUNK_CHARS = 8 * 1024 * 1024;
// SESSION_MEMORY_MB above 512 lets an upload pass the memory check up to V8's longest string.
// The longest-string bound must be reached before the other limits on what a client may send.
const server = await startTestServer({
  METRICS_PORT: "0",
  SESSION_MEMORY_MB: "1024",
  MAX_FRAME_BYTES: String(CHUNK_CHARS + 4096),
  SESSION_BUFFER_MB: "2048",
  SERVER_BUFFER_MB: "2048",
  FRAME_RATE: "0",
  BYTE_RATE_MB: "0",
});
const token = await server.token();
const metricsAddress = server.app.metricsServer!.address();
const metricsUrl = `http://127.0.0.1:${typeof metricsAddress === "object" && metricsAddress ? metricsAddress.port : 0}`;
const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wasm-repl.v1\r\n";
/** `[[[...]]]`: about 40 KB of text, far past MAX_JSON_DEPTH. */
const DEEP = "[".repeat(20_000) + "]".repeat(20_000);

/** The server still answers: /health, and a session runs a cell. */
async function assertServing(): Promise<void> {
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  const session = await ReplSession.open(server.url, { token });
  assert.equal((await session.execute("6 * 7")).value, "42");
  await session.close();
}

test("a request target new URL refuses (a bad port, a bad host) is answered 400 on every listener", async () => {
  for (const target of ["http://x:99999/", "http://[/v1/sessions", "http://x:-1/", "*"]) {
    for (const base of [server.url, metricsUrl]) {
      const answer = await rawExchange(base, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(answer.status, 400, `${target} on ${base}: ${answer.text}`);
      assert.equal((bodyOf(answer) as { code: string }).code, "bad_request");
    }
  }
  await assertServing();
});

test("an upgrade whose target new URL refuses is answered 400, before authentication", async () => {
  for (const target of ["http://[/v1/sessions", "http://x:99999/v1/sessions"]) {
    const answer = await rawExchange(server.url, `GET ${target} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}Authorization: Bearer ${token}\r\n\r\n`);
    assert.equal(answer.status, 400, answer.text);
    assert.match((bodyOf(answer) as { message: string }).message, /is not a path/);
  }
  await assertServing();
});

test("a target with a . or .. segment, encoded or not, is answered 400 and routed nowhere", async () => {
  const session = await ReplSession.open(server.url, { token });
  for (const path of [`/v1/sessions/${session.id}/files/..`, `/v1/sessions/${session.id}/files/%2E%2e`, `/v1/sessions/${session.id}/files/./x`, "/v1/../health", `http://x/v1/sessions/${session.id}/files/..`]) {
    const answer = await rawExchange(server.url, `DELETE ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    assert.equal(answer.status, 400, `${path}: ${answer.text}`);
    assert.match((bodyOf(answer) as { message: string }).message, /has a \. or \.\. segment/);
  }
  assert.equal((await session.execute("'still here'")).value, "'still here'", "DELETE .../files/.. did not end the session");
  await session.close();
  const dotted = await rawExchange(server.url, "GET /health/... HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert.equal(dotted.status, 404, "three dots are a name, not a dot segment");
});

test("an absolute-form target routes by its path (RFC 9112 3.2.2)", async () => {
  const answer = await rawExchange(server.url, "GET http://anyhost:8000/health HTTP/1.1\r\nHost: anyhost\r\nConnection: close\r\n\r\n");
  assert.equal(answer.status, 200);
  assert.deepEqual(bodyOf(answer), { status: "ok" });
  const metrics = await rawExchange(metricsUrl, "GET http://anyhost/metrics HTTP/1.1\r\nHost: anyhost\r\nConnection: close\r\n\r\n");
  assert.equal(metrics.status, 200);
});

test("a frame of deeply nested JSON in any field is bad_request naming MAX_JSON_DEPTH; the connection goes on", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const frames = [
    `{"type": ${DEEP}}`,
    `{"type": "execute", "id": "deep", "code": ${DEEP}}`,
    `{"type": "execute", "id": ${DEEP}, "code": "1"}`,
    `{"type": "add_context", "payload": ${DEEP}}`,
    `{"type": "add_context", "payload": {"nested": ${DEEP}}}`,
    `{"type": "set_vars", "vars": {"x": ${DEEP}}}`,
    `{"type": "auth", "token": ${DEEP}}`,
  ];
  for (const frame of frames) {
    raw.send(frame);
    const error = await raw.next("error");
    assert.equal(error.code, "bad_request");
    assert.match(error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels \\(MAX_JSON_DEPTH\\)`));
  }
  raw.send({ type: "execute", id: "after", code: "'still here'" });
  assert.equal((await raw.next("result")).value, "'still here'");
  await raw.end();
  await assertServing();
});

test("a json: true payload nesting past MAX_JSON_DEPTH is refused before it reaches Python", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  raw.send({ type: "add_context", id: "whole", payload: DEEP, json: true });
  assert.match((await raw.next("error")).message, /MAX_JSON_DEPTH/);
  raw.send({ type: "add_context", id: "chunked", payload: DEEP.slice(0, 20_000), json: true, more: true, offset: 0 });
  raw.send({ type: "add_context", id: "chunked", payload: DEEP.slice(20_000), offset: 20_000 });
  const refused = await raw.next("error");
  assert.equal(refused.id, "chunked");
  assert.match(refused.message, /MAX_JSON_DEPTH/);
  raw.send({ type: "add_context", id: "shallow", payload: JSON.stringify({ a: [[1]] }), json: true });
  assert.equal((await raw.next("result")).success, true);
  raw.send({ type: "execute", id: "read", code: "context['a'][0][0]" });
  assert.equal((await raw.next("result")).value, "1");
  await raw.end();
});

test("POST /execute with deeply nested code or context is 400 naming MAX_JSON_DEPTH", async () => {
  for (const body of [`{"code": ${DEEP}}`, `{"code": "1", "context": {"x": ${DEEP}}}`, DEEP]) {
    const response = await fetch(`${server.url}/execute`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /^the body nests arrays and objects deeper than 64 levels \(MAX_JSON_DEPTH\)/);
  }
  await assertServing();
});

test("a chunked upload past the longest string V8 can make is too_large naming the limit, not a crash", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const chunk = "a".repeat(CHUNK_CHARS);
  const chunks = Math.ceil((constants.MAX_STRING_LENGTH + 1) / CHUNK_CHARS);
  for (let index = 0; index < chunks; index++) {
    raw.send({ type: "add_context", id: "huge", payload: chunk, more: index < chunks - 1, offset: index * CHUNK_CHARS });
  }
  const refused = await raw.next("error", 120_000);
  assert.equal(refused.code, "too_large");
  assert.equal(refused.id, "huge");
  assert.match(refused.message, new RegExp(`over ${constants.MAX_STRING_LENGTH} characters, the longest string the server can hold`));
  raw.send({ type: "execute", id: "after", code: "'still here'" });
  assert.equal((await raw.next("result")).value, "'still here'");
  await raw.end();
  await assertServing();
});
