// Bad input never crashes anything and never leaves a client guessing.
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";
import { bearer, refusedUpgrade } from "../helpers/upgrade.ts";
import { SignJWT } from "jose";

const server = await startTestServer({ MAX_FRAME_BYTES: "65536", MAX_SESSIONS: "3", MAX_QUEUED_CELLS: "2" });
const token = await server.token();

test("every kind of bad frame gets bad_request naming the problem, and the connection stays open", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const cases: [unknown, RegExp][] = [
    ["{not json", /not valid JSON/],
    ["[1, 2]", /must be a JSON object/],
    [{ code: "1" }, /unknown frame type undefined/],
    [{ type: "launch" }, /unknown frame type "launch"; expected one of execute, interrupt/],
    [{ type: "execute", code: "1" }, /execute\.id must be a string of 1 to 128 characters; it is missing/],
    [{ type: "execute", id: "a", code: 5 }, /execute\.code must be a string; got 5/],
    [{ type: "execute", id: "a", code: "1", timeout: -1 }, /execute\.timeout must be a positive number; got -1/],
    [{ type: "execute", id: "a", code: "1", locals: "some" }, /execute\.locals must be one of "all", "changed", "none"/],
    [{ type: "execute", id: "a", code: "1", extra: true }, /execute\.extra is an unknown field/],
    [{ type: "set_vars", vars: [1] }, /set_vars\.vars must be a JSON object/],
    [{ type: "interrupt", id: "nothing-like-it" }, /no queued or running cell has id "nothing-like-it"/],
  ];
  for (const [frame, expected] of cases) {
    raw.send(frame);
    const error = await raw.next("error");
    assert.equal(error.code, "bad_request");
    assert.match(error.message, expected);
  }
  raw.socket.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.match((await raw.next("error")).message, /binary frames are not part of the protocol/);
  raw.send({ type: "execute", id: "still-open", code: "6 * 7" });
  assert.equal((await raw.next("result")).value, "42");
  await raw.end();
});

test("a frame over MAX_FRAME_BYTES closes the connection with 1009; the session survives", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const { session_id } = raw.welcome;
  raw.send({ type: "execute", id: "huge", code: `x = "${"a".repeat(70_000)}"` });
  assert.equal((await raw.closed).code, 1009);
  const again = await ReplSession.attach(server.url, session_id, { token });
  assert.equal((await again.execute("'alive'")).value, "'alive'");
  await again.close();
});

test("a full queue answers busy for that cell", async () => {
  const session = await ReplSession.open(server.url, { token });
  const running = session.execute("import time\ntime.sleep(0.5)");
  const queued = [session.execute("1"), session.execute("2")];
  await assert.rejects(session.execute("3"), (error: WasmReplError) => error.code === "busy" && /MAX_QUEUED_CELLS/.test(error.message));
  assert.equal((await running).success, true);
  assert.deepEqual((await Promise.all(queued)).map((result) => result.value), ["1", "2"]);
  await session.close();
});

test("a duplicate cell id is refused while the first is queued or running", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  raw.send({ type: "execute", id: "same", code: "import time\ntime.sleep(0.3)" });
  raw.send({ type: "execute", id: "same", code: "2" });
  const refused = await raw.next("error");
  assert.equal(refused.id, "same");
  assert.match(refused.message, /already queued or running/);
  assert.equal((await raw.next("result")).success, true);
  await raw.end();
});

test("MAX_SESSIONS refuses a new session with quota_exceeded", async () => {
  const open = await Promise.all([1, 2, 3].map(() => ReplSession.open(server.url, { token })));
  await assert.rejects(ReplSession.open(server.url, { token }), (error: WasmReplError) => {
    assert.equal(error.code, "quota_exceeded");
    assert.equal(error.status, 429);
    assert.match(error.message, /maximum of 3 sessions \(MAX_SESSIONS, in use: 3\)/);
    return true;
  });
  await Promise.all(open.map((session) => session.close()));
});

test("a missing, malformed, badly signed or expired token is refused with 401 before the socket opens", async () => {
  const wrongKey = await new SignJWT({ tenant: "acme" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("1h").sign(new TextEncoder().encode("another secret of enough length!"));
  const expired = await server.token({}, -60);
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /no token/],
    [{ authorization: "Basic abc" }, /must be "Bearer <token>"/],
    [{ authorization: "Bearer not-a-jwt" }, /malformed/],
    [{ authorization: `Bearer ${wrongKey}` }, /signature does not verify/],
    [{ authorization: `Bearer ${expired}` }, /expired/],
  ];
  for (const [headers, expected] of cases) {
    const { status, body } = await refusedUpgrade(server.url, "/v1/sessions", headers);
    assert.equal(status, 401);
    assert.equal(body.code, "unauthorized");
    assert.match(body.message, expected);
  }
});

test("browsers may carry the token as a subprotocol", async () => {
  const socket = new WebSocket(server.url.replace("http", "ws") + "/v1/sessions", ["wasm-repl.v1", `bearer.${token}`]);
  const raw = await new Promise<string>((resolve) => socket.once("message", (data) => resolve(data.toString())));
  assert.equal(socket.protocol, "wasm-repl.v1");
  assert.equal(JSON.parse(raw).type, "session");
  socket.send(JSON.stringify({ type: "close" }));
  await new Promise((resolve) => socket.once("close", resolve));
});

test("attaching to an unknown session answers session_not_found; a bad since is refused", async () => {
  assert.deepEqual((await refusedUpgrade(server.url, "/v1/sessions/nope", bearer(token))).body.code, "session_not_found");
  const session = await ReplSession.open(server.url, { token });
  const { status, body } = await refusedUpgrade(server.url, `/v1/sessions/${session.id}?since=abc`, bearer(token));
  assert.equal(status, 400);
  assert.match(body.message, /since must be a sequence number/);
  await session.close();
});

test("health, readiness and unknown routes answer JSON", async () => {
  assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: "ok" });
  // Ready once the pool has refilled after the sessions above took its sandboxes.
  let ready = await fetch(`${server.url}/ready`);
  for (let tries = 0; ready.status !== 200 && tries < 100; tries++) {
    assert.deepEqual(await ready.json(), { ready: false, reason: "no warm sandbox is available yet" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await fetch(`${server.url}/ready`);
  }
  assert.deepEqual(await ready.json(), { ready: true });
  const unknown = await fetch(`${server.url}/nowhere`);
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { message: string }).message, /no route for GET \/nowhere/);
});
