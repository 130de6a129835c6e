// Idle sessions are evicted, their clients told, and a later attach hears session_expired.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ IDLE_TIMEOUT: "1" });
const token = await server.token();
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("an idle session is evicted: clients get evicted {reason: idle}, a later attach session_expired", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const id = raw.welcome.session_id;
  // Pings do not count as activity.
  const pinger = setInterval(() => raw.send({ type: "ping" }), 200);
  const evicted = await raw.next("evicted", 5000);
  clearInterval(pinger);
  assert.equal(evicted.reason, "idle");
  assert.equal((await raw.closed).code, 1000);
  await assert.rejects(ReplSession.attach(server.url, id, { token }), (error: WasmReplError) => {
    assert.equal(error.code, "session_expired");
    assert.equal(error.status, 410);
    return true;
  });
});

test("a running cell is never idle, and the idle time counts from its end", async () => {
  const session = await ReplSession.open(server.url, { token });
  const evictions: string[] = [];
  session.on("evicted", (reason) => evictions.push(reason));
  const result = await session.execute("import time\ntime.sleep(2)\n'survived'");
  assert.equal(result.value, "'survived'");
  await delay(500);
  assert.deepEqual(evictions, [], "not idle for a full second yet");
  await delay(1500);
  assert.deepEqual(evictions, ["idle"]);
});

test("a client frame counts as activity", async () => {
  const session = await ReplSession.open(server.url, { token });
  for (let i = 0; i < 4; i++) {
    await delay(500);
    await session.execute("pass");
  }
  assert.equal((await session.execute("'still here'")).value, "'still here'");
  await session.close();
});

test("MAX_SESSION_LIFETIME ends a session however busy it is", async () => {
  const short = await startTestServer({ MAX_SESSION_LIFETIME: "1", IDLE_TIMEOUT: "60" });
  const session = await ReplSession.open(short.url, { token: await short.token() });
  const evicted = new Promise((resolve) => session.once("evicted", resolve));
  const busy = session.execute("import time\ntime.sleep(30)").catch((error: WasmReplError) => error.code);
  assert.equal(await evicted, "lifetime");
  assert.equal(await busy, "session_expired");
});
