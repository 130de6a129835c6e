// Many servers, one store: a request for a session another live server holds is forwarded to it;
// a draining server hands its sessions over without losing a variable; a killed server's
// checkpointed sessions come back (as do those it woke from hibernation and had not checkpointed
// since), and the rest answer session_lost.
import assert from "node:assert/strict";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { ReplSession, SessionFiles, WasmReplError, type SessionFrame } from "../../client/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { startTestServer } from "../helpers/server.ts";
import { spawnServer, type ServerProcess } from "../helpers/server-process.ts";

const prefix = uniqueKeyPrefix();
const secret = randomBytes(32).toString("hex");
after(() => deleteKeys(TEST_REDIS_URL, prefix));
const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, JWT_SECRET: secret, HIBERNATE_AFTER: "0", TENANT_OPEN_RATE: "1000" };
const owner = await startTestServer({ ...shared, POD_NAME: "owner", DRAIN_TIMEOUT: "5" });
const other = await startTestServer({ ...shared, POD_NAME: "other" });
const token = await other.token();

/** Kills a spawned server outright, waits out its heartbeat, and attaches to `id` through `other`: the session frame it answers. */
async function killThenAttach(doomed: ServerProcess, id: string): Promise<SessionFrame> {
  doomed.process.kill("SIGKILL");
  await once(doomed.process, "exit");
  await new Promise((resolve) => setTimeout(resolve, 1500)); // its heartbeat (POD_HEARTBEAT_TTL 1) expires
  const raw = await RawSocket.connect(other.url, `/v1/sessions/${id}`, token);
  raw.socket.close();
  return raw.welcome;
}

async function forwardedCount(kind: string): Promise<number> {
  const text = await (await fetch(`${other.url}/metrics`)).text();
  return Number(new RegExp(`wasm_repl_forwarded_total\\{kind="${kind}",outcome="ok"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

test("a connection or an HTTP call for a session another server holds is forwarded to it, with the caller's token", async () => {
  const session = await ReplSession.open(owner.url, { token });
  await session.execute("x = 41");
  const viaOther = await ReplSession.attach(other.url, session.id, { token });
  assert.equal((await viaOther.execute("x += 1; x")).value, "42");
  assert.equal(await forwardedCount("websocket"), 1);
  assert.equal(owner.app.registry.size, 1, "the session stays on its server");
  assert.equal(other.app.registry.size, 0);

  const execute = (body: object, bearer = token) =>
    fetch(`${other.url}/execute`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const answered = await execute({ code: "x * 2", session_id: session.id });
  assert.equal(answered.status, 200);
  assert.equal(((await answered.json()) as { value: string }).value, "84");
  assert.equal(await forwardedCount("http"), 1);
  // The owner checks the token again: another tenant's is refused there as a missing session.
  const stranger = await execute({ code: "x", session_id: session.id }, await other.token({ tenant: "initech", user: "mallory" }));
  assert.equal(stranger.status, 404);
  assert.equal(((await stranger.json()) as { code: string }).code, "session_not_found");

  const deleted = await fetch(`${other.url}/v1/sessions/${session.id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
  assert.equal(deleted.status, 204);
  assert.equal(owner.app.registry.size, 0, "ended on its server");
  viaOther.disconnect();
});

test("a session's file routes are forwarded to the server holding it, a write's body streamed along", async () => {
  const session = await ReplSession.open(owner.url, { token });
  const before = await forwardedCount("http");
  const viaOther = new SessionFiles(other.url, session.id, () => token);
  const payload = randomBytes(3 * 1024 * 1024);
  await viaOther.upload("moved/payload.bin", payload);
  assert.deepEqual(await viaOther.list(), { files: [{ path: "moved/payload.bin", size: payload.byteLength }], truncated: false });
  assert.deepEqual(Buffer.from(await viaOther.download("moved/payload.bin")), payload);
  await viaOther.delete("moved/payload.bin");
  assert.equal(await forwardedCount("http"), before + 4);
  assert.equal(other.app.registry.size, 0, "the session stayed on its server");
  assert.deepEqual((await session.listFiles()).files, []);
  const strangerToken = await other.token({ tenant: "initech", user: "mallory" });
  await assert.rejects(new SessionFiles(other.url, session.id, () => strangerToken).list(), (error: WasmReplError) => error.code === "session_not_found");
  await session.close();
});

test("a draining server hibernates its sessions and its clients follow them to another server", async () => {
  const session = await ReplSession.open(other.url, { token }); // opened on `other`...
  await session.execute("import math\nkept = [math.pi]");
  const onOwner = await ReplSession.open(owner.url, { token });
  await onOwner.execute("here = 1");
  const unused = await ReplSession.open(owner.url, { token }); // never runs a cell: nothing to save, yet it moves
  // ...and attached through `other` to one held by `owner`: its connection is forwarded.
  const client = await ReplSession.attach(other.url, onOwner.id, { token });
  const moves: string[] = [];
  client.on("moving", () => moves.push("moving"));
  client.on("reconnected", () => moves.push("reconnected"));
  const running = client.execute("import time\ntime.sleep(0.8)\nhere += 1\nhere");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const queuedBehind = client.execute("here * 10");
  await owner.shutdown();
  assert.equal((await running).value, "2", "the running cell finished before the server left");
  assert.equal((await queuedBehind).value, "20", "the cell queued behind it ran on the session's next server");
  assert.deepEqual(moves, ["moving", "reconnected"]);
  assert.equal((await client.execute("here")).value, "2");
  assert.equal(other.app.registry.size, 2, "woken on the remaining server");
  const moved = await ReplSession.attach(other.url, unused.id, { token });
  assert.equal((await moved.execute("'here' in globals(), 6 * 7")).value, "(False, 42)");
  unused.disconnect();
  await moved.close();
  const record = await other.stores.sessions.get(onOwner.id);
  assert.equal(record?.pod, "other");
  assert.equal((await session.execute("kept")).value, "[3.141592653589793]");
  onOwner.disconnect();
  await Promise.all([client.close(), session.close()]);
});

test("a killed server's checkpointed sessions come back from the checkpoint; the others answer session_lost", async () => {
  const doomed = await spawnServer({ ...shared, POD_NAME: "doomed", POD_HEARTBEAT_TTL: "1", CHECKPOINT_AFTER: "1", POOL_SIZE: "2" });
  const checkpointed = await ReplSession.open(doomed.url, { token, reconnect: false });
  await checkpointed.execute("kept = 5");
  const never = await ReplSession.open(doomed.url, { token, reconnect: false });
  await new Promise((resolve) => setTimeout(resolve, 2500)); // idle past CHECKPOINT_AFTER: checkpointed
  // Both at once, and the kill right after: neither is idle for CHECKPOINT_AFTER again (one after
  // the other, a slow first cell of `never` left `checkpointed` idle long enough for a second checkpoint).
  await Promise.all([
    checkpointed.execute("after_checkpoint = 6"),
    never.execute("unsaved = 1"), // its first cell: it was never idle after one, so never checkpointed
  ]);
  const welcome = await killThenAttach(doomed, checkpointed.id);
  assert.deepEqual(welcome.restored_from_checkpoint, { execution_count: 1 }, "the client is told where the session came back from");
  const back = await ReplSession.attach(other.url, checkpointed.id, { token });
  assert.equal((await back.execute("kept, 'after_checkpoint' in globals()")).value, "(5, False)");
  const started = performance.now();
  await assert.rejects(ReplSession.attach(other.url, never.id, { token, reconnect: false }), (error: WasmReplError) => {
    assert.equal(error.code, "session_lost");
    return true;
  });
  assert.ok(performance.now() - started < 2000, "answered at once");
  await back.close();
});

test("a session a killed server had woken from hibernation, and not checkpointed since, comes back from its hibernation snapshot", async () => {
  // No checkpoints at all: the snapshot of its hibernation is the only one it has.
  const doomed = await spawnServer({ ...shared, POD_NAME: "doomed-waker", POD_HEARTBEAT_TTL: "1", HIBERNATE_AFTER: "1", CHECKPOINT_AFTER: "0", POOL_SIZE: "2" });
  const session = await ReplSession.open(doomed.url, { token, reconnect: false });
  await session.execute("kept = 5");
  await session.execute("kept += 1");
  const deadline = Date.now() + 10_000;
  while ((await other.stores.sessions.get(session.id))?.state !== "hibernated") {
    assert.ok(Date.now() < deadline, "the quiet session hibernated");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await session.execute("after_wake = 6"); // wakes it on its server, which is then killed
  const welcome = await killThenAttach(doomed, session.id);
  assert.deepEqual(welcome.restored_from_checkpoint, { execution_count: 2 }, "it came back from the state it hibernated with, and says so");
  const back = await ReplSession.attach(other.url, session.id, { token });
  assert.equal(back.restoredFromCheckpoint, 2, "the SDK says so once attach() returns, too");
  assert.equal((await back.execute("kept, 'after_wake' in globals()")).value, "(6, False)");
  await back.close();
});
