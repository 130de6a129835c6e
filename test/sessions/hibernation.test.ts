// Quiet sessions hibernate: their interpreter is snapshotted and freed, and the next use wakes it
// with every variable, on this server or, through the shared Redis, on another.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForState(server: TestServer, id: string, state: string): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if ((await server.stores.sessions.get(id))?.state === state) return;
    await delay(100);
  }
  assert.fail(`session ${id} never became ${state}: ${JSON.stringify(await server.stores.sessions.get(id))}`);
}

const SETUP = [
  "import json, statistics",
  "class Point:\n    def __init__(self, x, y): self.x, self.y = x, y\n    def norm(self): return (self.x ** 2 + self.y ** 2) ** 0.5",
  "def scaler(k):\n    def scale(v): return v * k\n    return scale",
  "triple = scaler(3)",
  "big = list(range(1_500_000))",
  "p = Point(3, 4)",
].join("\n");
const CHECK = "p.norm(), triple(14), len(big), big[-1], statistics.mean([1, 2, 3]), json.dumps({'k': 1})";
const EXPECTED = "(5.0, 42, 1500000, 1499999, 2, '{\"k\": 1}')";

test("an idle session hibernates and wakes on its next cell with everything intact", async () => {
  const server = await startTestServer({ HIBERNATE_AFTER: "1", IDLE_TIMEOUT: "60" });
  const session = await ReplSession.open(server.url, { token: await server.token() });
  await session.execute(SETUP);
  await waitForState(server, session.id, "hibernated");
  const record = await server.stores.sessions.get(session.id);
  assert.ok(record!.snapshotKey && record!.snapshotBytes > 0);
  const result = await session.execute(CHECK);
  assert.equal(result.value, EXPECTED);
  assert.equal(result.execution_count, 2, "the same interpreter, not a fresh one");
  assert.equal((await server.stores.sessions.get(session.id))!.state, "live");
  await session.close();
});

test("a session hibernated by one server is woken by another that shares the Redis", async () => {
  const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueKeyPrefix(), JWT_SECRET: randomBytes(32).toString("hex"), IDLE_TIMEOUT: "60" };
  after(() => deleteKeys(shared.REDIS_URL, shared.REDIS_KEY_PREFIX));
  const first = await startTestServer({ ...shared, POD_NAME: "pod-a", HIBERNATE_AFTER: "1" });
  const token = await first.token();
  const session = await ReplSession.open(first.url, { token, reconnect: false });
  const id = session.id;
  await session.execute(SETUP);
  await waitForState(first, id, "hibernated");
  await first.shutdown(); // the session belongs to no process now
  const record = await first.stores.sessions.get(id).catch(() => null);
  assert.equal(record, null, "the first server's store is closed");

  const second = await startTestServer({ ...shared, POD_NAME: "pod-b", HIBERNATE_AFTER: "0" });
  const woken = await ReplSession.attach(second.url, id, { token });
  assert.equal((await woken.execute(CHECK)).value, EXPECTED);
  const now = await second.stores.sessions.get(id);
  assert.equal(now!.pod, "pod-b");
  assert.equal(now!.state, "live");
  await woken.close();
  assert.equal((await second.stores.sessions.get(id))!.state, "evicted");
});

test("a client that saw frames of the session before it moved hears replay_gap and follows the new history", async () => {
  const server = await startTestServer({ HIBERNATE_AFTER: "0" });
  const token = await server.token();
  const session = await ReplSession.open(server.url, { token });
  const raw = await RawSocket.connect(server.url, `/v1/sessions/${session.id}?since=500`, token);
  assert.equal(raw.welcome.last_seq, 0);
  const gap = await raw.next("error");
  assert.equal(gap.code, "replay_gap");
  assert.match(gap.message, /history restarted at seq 0/);
  raw.socket.close();
  await session.close();
});

const FILES_SETUP = "import os\nos.makedirs('results/empty')\nwith open('results/made.txt', 'w') as f: f.write(os.environ['GREETING'] + ' from python')";
const FILES_CHECK = "import os\nopen('input.csv').read(), open('results/made.txt').read(), os.path.isdir('results/empty'), os.environ.get('GREETING')";
const FILES_EXPECTED = "('a,b\\n1,2\\n', 'hello from python', True, 'hello')";

/** A session with environment variables, an uploaded file and files its Python made. */
async function sessionWithFiles(server: TestServer, token: string): Promise<ReplSession> {
  const session = await ReplSession.open(server.url, { token, env: { GREETING: "hello" }, reconnect: false });
  await session.uploadFile("input.csv", "a,b\n1,2\n");
  assert.equal((await session.execute(FILES_SETUP)).error, null);
  return session;
}

test("a hibernated session wakes with its files and its environment variables", async () => {
  const server = await startTestServer({ HIBERNATE_AFTER: "1", IDLE_TIMEOUT: "60" });
  const session = await sessionWithFiles(server, await server.token());
  await waitForState(server, session.id, "hibernated");
  // Listing wakes it, in order with the cell after it.
  assert.deepEqual((await session.listFiles()).files, [
    { path: "input.csv", size: 8 },
    { path: "results/made.txt", size: 17 },
  ]);
  assert.equal((await session.execute(FILES_CHECK)).value, FILES_EXPECTED);
  await session.close();
});

test("a session drained from one server wakes on another with its files and environment variables; a fresh interpreter there gets them too", async () => {
  const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueKeyPrefix(), JWT_SECRET: randomBytes(32).toString("hex"), IDLE_TIMEOUT: "60", HIBERNATE_AFTER: "0" };
  after(() => deleteKeys(shared.REDIS_URL, shared.REDIS_KEY_PREFIX));
  const first = await startTestServer({ ...shared, POD_NAME: "pod-a" });
  const token = await first.token();
  const session = await sessionWithFiles(first, token);
  // Never used: it moves as its record alone, which carries its environment.
  const empty = await ReplSession.open(first.url, { token, env: { GREETING: "from the record" }, reconnect: false });
  await first.shutdown(); // the drain saves the live session to Redis
  const second = await startTestServer({ ...shared, POD_NAME: "pod-b" });
  const woken = await ReplSession.attach(second.url, session.id, { token });
  assert.equal(Buffer.from(await woken.downloadFile("results/made.txt")).toString(), "hello from python");
  assert.equal((await woken.execute(FILES_CHECK)).value, FILES_EXPECTED);
  assert.equal((await woken.reset()).state_preserved, false);
  assert.equal((await woken.execute("import os\nos.environ.get('GREETING'), os.path.exists('input.csv')")).value, "('hello', False)", "a reset keeps the environment and drops the files");
  const fresh = await ReplSession.attach(second.url, empty.id, { token });
  assert.equal((await fresh.execute("import os\nos.environ.get('GREETING')")).value, "'from the record'");
  await Promise.all([woken.close(), fresh.close()]);
});
