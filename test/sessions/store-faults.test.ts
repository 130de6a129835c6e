// While Redis is down, live sessions keep executing and opening fails fast; when it returns,
// nothing was lost. A server killed outright leaves its unsaved sessions "lost", said at once.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { startRedisServer } from "../helpers/redis-server.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { startTestServer } from "../helpers/server.ts";
import { spawnServer } from "../helpers/server-process.ts";

test("a Redis outage: live sessions keep running, opening answers store_unavailable at once, records survive", async () => {
  const redis = await startRedisServer();
  const server = await startTestServer({ REDIS_URL: redis.url, HIBERNATE_AFTER: "0" });
  const token = await server.token();
  const session = await ReplSession.open(server.url, { token });
  await session.execute("x = 1");

  await redis.stop();
  assert.equal((await session.execute("x + 1")).value, "2", "a live session does not need the store");
  const started = performance.now();
  await assert.rejects(ReplSession.open(server.url, { token, reconnect: false }), (error: WasmReplError) => {
    assert.equal(error.code, "store_unavailable");
    assert.equal(error.status, 503);
    assert.match(error.message, /Redis is unreachable/);
    return true;
  });
  assert.ok(performance.now() - started < 3000, "fails fast");
  await session.execute("x = 3"); // activity while the store is down is queued, not lost

  await redis.start(); // empty: it keeps nothing
  const deadline = Date.now() + 10_000;
  let record = null;
  while (Date.now() < deadline && !(record = await server.stores.sessions.get(session.id).catch(() => null))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(record?.state, "live", "the record is back after Redis returned empty");
  assert.equal((await session.execute("x")).value, "3");
  const fresh = await ReplSession.open(server.url, { token });
  await Promise.all([fresh.close(), session.close()]);
});

test("a server killed with SIGKILL: its live sessions answer session_lost on another server, at once", async () => {
  const prefix = uniqueKeyPrefix();
  const secret = randomBytes(32).toString("hex");
  after(() => deleteKeys(TEST_REDIS_URL, prefix));
  const { process: doomed, url } = await spawnServer({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, JWT_SECRET: secret, POD_NAME: "doomed", POD_HEARTBEAT_TTL: "1" });
  const survivor = await startTestServer({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, JWT_SECRET: secret, POD_NAME: "survivor", HIBERNATE_AFTER: "0" });
  const token = await survivor.token();
  const session = await ReplSession.open(url, { token, reconnect: false });
  await session.execute("unsaved = 1");
  doomed.kill("SIGKILL");
  await once(doomed, "exit");
  await new Promise((resolve) => setTimeout(resolve, 1500)); // its heartbeat expires
  const started = performance.now();
  await assert.rejects(ReplSession.attach(survivor.url, session.id, { token, reconnect: false }), (error: WasmReplError) => {
    assert.equal(error.code, "session_lost");
    assert.match(error.message, /its state could not be recovered/);
    return true;
  });
  assert.ok(performance.now() - started < 2000, "answered at once, never hanging");
  assert.equal((await survivor.stores.sessions.get(session.id))!.state, "lost");
});
