// What clients make the server hold is bounded and accounted (issue 12, item 5), and one
// connection cannot flood the server that serves the others (item 6).
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";
import { ReplSession } from "../../client/index.ts";
import { PROTOCOL } from "../../protocol/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { loadConfig } from "../../server/config.ts";
import { startTestServer } from "../helpers/server.ts";

const MIB = 1024 * 1024;
const SESSION_BUFFER_MB = 40;
const server = await startTestServer({
  SESSION_BUFFER_MB: String(SESSION_BUFFER_MB),
  MAX_CONNECTIONS_PER_SESSION: "11",
  MAX_OUTPUT_BYTES: String(16 * MIB),
  // Room for the large test's two frames: a client cut off gets them back when it reconnects.
  REPLAY_BUFFER_BYTES: String(24 * MIB),
  UPLOAD_IDLE_TIMEOUT: "0.5",
  FRAME_RATE: "50",
  FRAME_BURST: "200",
  BYTE_RATE_MB: "1",
  BYTE_BURST_MB: "128",
});
// With the default rate limits: what the SDK does in normal use is never cut.
const defaults = await startTestServer({ SESSION_MEMORY_MB: "1024" });
// Rate limits belong to an identity: each test sends as a user of its own.
const tokenFor = (user: string) => server.token({ user });

async function buffered(): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const kinds = [...text.matchAll(/^wasm_repl_buffered_bytes\{kind="(\w+)"\} (\d+)$/gm)];
  assert.ok(kinds.length > 0, "the metric wasm_repl_buffered_bytes is missing");
  return Object.fromEntries(kinds.map(([, kind, value]) => [kind!, Number(value)]));
}

async function bufferedUntil(predicate: (usage: Record<string, number>) => boolean): Promise<Record<string, number>> {
  for (let attempt = 0; ; attempt++) {
    const usage = await buffered();
    if (predicate(usage)) return usage;
    if (attempt > 200) assert.fail(`the buffered bytes never reached the expected state: ${JSON.stringify(usage)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const total = (usage: Record<string, number>) => Object.values(usage).reduce((sum, value) => sum + value, 0);

test("clients that never read cannot multiply a large result past the session's budget; they are dropped and the session goes on", { timeout: 180_000 }, async () => {
  const token = await tokenFor("readers");
  const reader = await ReplSession.open(server.url, { token });
  await reader.execute("0");
  const stalled = await Promise.all(Array.from({ length: 10 }, () => RawSocket.connect(server.url, `/v1/sessions/${reader.id}`, token)));
  for (const client of stalled) client.socket.pause();
  // An 8 MiB stream frame, then a result carrying the same 8 MiB of stdout.
  const result = await reader.execute(`print('x' * ${8 * MIB})`);
  assert.equal(result.stdout.length, 8 * MIB + 1, "the reader gets the whole result (after a reconnect if it was cut)");

  const usage = await buffered();
  assert.ok(total(usage) <= SESSION_BUFFER_MB * MIB, `the server holds ${total(usage)} bytes for the session, over its ${SESSION_BUFFER_MB} MiB: ${JSON.stringify(usage)}`);

  const outcomes = await Promise.all(
    stalled.map((client) => {
      client.socket.resume();
      return Promise.race([client.next("result", 60_000).then(() => "read"), client.closed.then(({ code }) => code)]);
    }),
  );
  const dropped = outcomes.filter((outcome) => outcome !== "read");
  assert.ok(dropped.length >= 1, "no stalled connection was dropped");
  assert.deepEqual(new Set(dropped), new Set([1006]), "a dropped connection is cut without a close frame (documented: 1006)");
  assert.equal((await reader.execute("1 + 1")).value, "2", "the session goes on");
  for (const client of stalled) client.socket.terminate();
  await reader.close();
  await bufferedUntil((after) => after.unsent === 0 && after.replay === 0);
});

test("a session takes MAX_CONNECTIONS_PER_SESSION connections; one more is refused naming the limit", { timeout: 180_000 }, async () => {
  const token = await tokenFor("many");
  const first = await RawSocket.connect(server.url, "/v1/sessions", token);
  const path = `/v1/sessions/${first.welcome.session_id}`;
  const others = await Promise.all(Array.from({ length: 10 }, () => RawSocket.connect(server.url, path, token)));
  const { status, body } = await upgradeRefusal(path, token);
  assert.equal(status, 429);
  assert.equal(body.code, "quota_exceeded");
  assert.match(body.message, /11 connections \(MAX_CONNECTIONS_PER_SESSION\)/);
  const leaving = others.pop()!;
  leaving.socket.close();
  await leaving.closed;
  const again = await RawSocket.connect(server.url, path, token);
  for (const client of [again, ...others]) client.socket.terminate();
  await first.end();
});

/** Whether an upgrade is accepted (then closed at once), or the HTTP answer refusing it. */
function upgrade(path: string, token: string): Promise<"open" | { status: number; body: { code: string; message: string } }> {
  const socket = new WebSocket(server.url.replace(/^http/, "ws") + path, [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve) => {
    socket.on("open", () => {
      socket.terminate();
      resolve("open");
    });
    socket.on("error", () => {});
    socket.on("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
  });
}

/** The HTTP answer to an upgrade the server refuses. */
function upgradeRefusal(path: string, token: string): Promise<{ status: number; body: { code: string; message: string } }> {
  const socket = new WebSocket(server.url.replace(/^http/, "ws") + path, [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    socket.on("open", () => reject(new Error("the connection over the limit was accepted")));
    socket.on("error", () => {});
    socket.on("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
  });
}

test("an upload abandoned mid-way is dropped after UPLOAD_IDLE_TIMEOUT and its bytes are given back", { timeout: 180_000 }, async () => {
  const token = await tokenFor("uploader");
  const watcher = await RawSocket.connect(server.url, "/v1/sessions", token);
  const path = `/v1/sessions/${watcher.welcome.session_id}`;
  const uploader = await RawSocket.connect(server.url, path, token);
  uploader.send({ type: "add_context", id: "big", payload: "y".repeat(MIB), offset: 0, more: true });
  uploader.socket.terminate();
  const dropped = await watcher.next((frame) => frame.type === "error" && frame.id === "big");
  assert.match(dropped.type === "error" ? dropped.message : "", /UPLOAD_IDLE_TIMEOUT/);
  assert.equal((await buffered()).upload, 0);
  watcher.send({ type: "add_context", id: "whole", payload: "z".repeat(1000), index: 0 });
  assert.equal((await watcher.next((frame) => frame.type === "result" && frame.id === "whole")).type, "result");
  watcher.send({ type: "execute", id: "len", code: "len(context_0)" });
  const length = await watcher.next((frame) => frame.type === "result" && frame.id === "len");
  assert.equal(length.type === "result" && length.value, "1000");
  await watcher.end();
});

test("queued code over the session's budget is refused: too_large alone, busy behind other work, naming SESSION_BUFFER_MB", { timeout: 180_000 }, async () => {
  const token = await tokenFor("queuer");
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  raw.send({ type: "execute", id: "hold", code: "import time\nwhile True:\n    time.sleep(0.01)" });
  const comment = (mib: number) => `#${"c".repeat(mib * MIB)}`;
  raw.send({ type: "execute", id: "huge", code: comment(SESSION_BUFFER_MB + 1) });
  const huge = await raw.next((frame) => frame.type === "error" && frame.id === "huge");
  assert.equal(huge.type === "error" && huge.code, "too_large");
  assert.match(huge.type === "error" ? huge.message : "", /SESSION_BUFFER_MB/);
  for (const id of ["q1", "q2", "q3"]) raw.send({ type: "execute", id, code: comment(15) });
  const busy = await raw.next((frame) => frame.type === "error" && frame.id === "q3");
  assert.equal(busy.type === "error" && busy.code, "busy");
  assert.match(busy.type === "error" ? busy.message : "", /SESSION_BUFFER_MB/);
  assert.ok((await buffered()).queued! >= 30 * MIB, "the queued code is accounted");
  raw.send({ type: "interrupt", id: "hold" });
  for (const id of ["hold", "q1", "q2"]) await raw.next((frame) => frame.type === "result" && frame.id === id, 60_000);
  assert.equal((await bufferedUntil((usage) => usage.queued === 0)).queued, 0, "run code gives its bytes back");
  await raw.end();
});

test("a ping flood closes the flooding connection with 1008 naming the limit; another session's cell still gets its result", { timeout: 180_000 }, async () => {
  const other = await ReplSession.open(server.url, { token: await tokenFor("bystander") });
  const flooder = await RawSocket.connect(server.url, "/v1/sessions", await tokenFor("pinger"));
  const cell = other.execute("'still served'");
  for (let i = 0; i < 5000 && flooder.socket.readyState === flooder.socket.OPEN; i++) flooder.send({ type: "ping" });
  const { code, reason } = await flooder.closed;
  assert.equal(code, 1008);
  assert.match(reason, /FRAME_BURST/);
  assert.equal((await cell).value, "'still served'");
  await other.close();
});

test("a client closed for its rate is refused reconnecting (429 quota_exceeded naming the limit) until its allowance refills, then let in", { timeout: 180_000 }, async () => {
  const token = await tokenFor("storm");
  const flooder = await RawSocket.connect(server.url, "/v1/sessions", token);
  const path = `/v1/sessions/${flooder.welcome.session_id}`;
  for (let i = 0; i < 1000 && flooder.socket.readyState === flooder.socket.OPEN; i++) flooder.send({ type: "ping" });
  assert.equal((await flooder.closed).code, 1008);
  for (const target of [path, "/v1/sessions"]) {
    const refused = await upgrade(target, token);
    assert.ok(refused !== "open", `a connection to ${target} was accepted while the client's allowance was empty`);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, "quota_exceeded");
    assert.match(refused.body.message, /rate limit: .*\(FRAME_BURST, FRAME_RATE\).*refused until its allowance refills \(in \d+(\.\d)? s\)/);
  }
  const bystander = await RawSocket.connect(server.url, "/v1/sessions", await tokenFor("storm-neighbour"));
  await bystander.end();
  // FRAME_BURST / FRAME_RATE: 4 s to refill; then the same client gets back to its session.
  let outcome: Awaited<ReturnType<typeof upgrade>> = await upgrade(path, token);
  for (let attempt = 0; outcome !== "open" && attempt < 600; attempt++) {
    assert.equal(outcome.body.code, "quota_exceeded");
    await new Promise((resolve) => setTimeout(resolve, 100));
    outcome = await upgrade(path, token);
  }
  assert.equal(outcome, "open", "the client was never let in again");
  const back = await RawSocket.connect(server.url, path, token);
  await back.end();
});

test("a byte flood closes the flooding connection with 1008 naming the limit before parsing what is past it", { timeout: 180_000 }, async () => {
  const other = await ReplSession.open(server.url, { token: await tokenFor("bystander-2") });
  const flooder = await RawSocket.connect(server.url, "/v1/sessions", await tokenFor("bytes"));
  const big = JSON.stringify({ type: "ping", id: "b".repeat(8 * MIB) });
  for (let i = 0; i < 20; i++) flooder.send(big);
  const { code, reason } = await flooder.closed;
  assert.equal(code, 1008);
  assert.match(reason, /BYTE_BURST_MB/);
  const answered = flooder.frames.filter((frame) => frame.type === "error").length;
  assert.ok(answered <= 16, `${answered} frames past the 128 MiB burst were parsed`);
  assert.equal((await other.execute("'still served'")).value, "'still served'");
  await other.close();
});

test("with the default limits the SDK's normal use is never cut: a 50 MiB add_context, then cells back to back past FRAME_BURST", { timeout: 300_000 }, async () => {
  const { frameBurst } = loadConfig({}).server.rateLimits;
  const session = await ReplSession.open(defaults.url, { token: await defaults.token({ user: "closed-loop" }), reconnect: false });
  let closed: unknown = "open";
  session.on("closed", (error) => (closed = error));
  const payload = "wasm-repl context ".repeat(Math.ceil((50 * MIB) / 18)).slice(0, 50 * MIB);
  assert.equal((await session.addContext(payload, { index: 0 })).success, true);
  const cells = 3 * frameBurst;
  for (let i = 0; i < cells; i++) assert.equal((await session.execute(String(i), { locals: "none" })).value, String(i));
  assert.equal((await session.execute("len(context_0)")).value, String(payload.length));
  assert.equal(closed, "open", "the connection was closed");
  await session.close();
});
