// Packages across a session's hibernation, through a real server: the housekeeping snapshots an
// idle session and frees its sandbox, and the next cell wakes it with its packages working. A
// session that holds a compiled package (its code outside the heap) is never snapshotted: it stays live.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { makeRepository, makeWheel } from "../helpers/repository.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A "compiled" package as the lock file tells it: a wasm32 wheel, installed by Pyodide's own loader.
const NATIVE = "native_thing-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl";
const repository = makeRepository({
  wheels: [
    { name: "greeting", files: { "greeting/__init__.py": "def hello(name):\n    return f'hello {name}'\n", "greeting/later.py": "WHEN = 'after the wake'\n" } },
    { name: "native-thing", files: { "native_thing.py": "KIND = 'native'\n" } },
  ],
  edit: (lock, dir) => {
    const entry = lock.packages["native-thing"]!;
    writeFileSync(join(dir, NATIVE), makeWheel({ name: "native-thing", files: { "native_thing.py": "KIND = 'native'\n" } }).bytes);
    Object.assign(entry, { file_name: NATIVE });
  },
});
const server = await startTestServer({ PYODIDE_PACKAGES_DIR: repository.dir, HIBERNATE_AFTER: "1", IDLE_TIMEOUT: "60" });

async function stateAfterQuiet(target: TestServer, id: string, wanted: string, quietMs: number): Promise<string | undefined> {
  const until = Date.now() + quietMs;
  let state: string | undefined;
  while (Date.now() < until) {
    state = (await target.stores.sessions.get(id))?.state;
    if (state === wanted) return state;
    await delay(100);
  }
  return state;
}

test("a session hibernates with a repository package and its own wheel, and wakes with both working", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token() });
  const mine = makeWheel({ name: "mine", files: { "mine.py": "def twice(x):\n    return 2 * x\n" } });
  assert.equal((await session.install(mine.bytes, mine.fileName)).success, true);
  assert.equal((await session.execute("import greeting, mine\ngreeting.hello('ann'), mine.twice(2)")).value, "('hello ann', 4)");
  assert.equal(await stateAfterQuiet(server, session.id, "hibernated", 10_000), "hibernated");
  const woken = await session.execute("import greeting.later\ngreeting.hello('bo'), greeting.later.WHEN, mine.twice(5)");
  assert.equal(woken.error, null, woken.error?.message);
  assert.equal(woken.value, "('hello bo', 'after the wake', 10)");
  assert.equal(woken.execution_count, 2, "the same interpreter, woken");
  await session.close();
});

test("a session that imported a compiled package is not hibernated: it stays live, and keeps it", async () => {
  const token = await server.token();
  const [native, control] = [await ReplSession.open(server.url, { token }), await ReplSession.open(server.url, { token })];
  assert.equal((await native.execute("import native_thing\nnative_thing.KIND")).value, "'native'");
  await control.execute("import greeting");
  // By the time a session as quiet as it has hibernated, the housekeeping has tried it too.
  assert.equal(await stateAfterQuiet(server, control.id, "hibernated", 10_000), "hibernated");
  assert.equal((await server.stores.sessions.get(native.id))?.state, "live");
  assert.equal((await native.execute("native_thing.KIND")).value, "'native'");
  await Promise.all([native.close(), control.close()]);
});
