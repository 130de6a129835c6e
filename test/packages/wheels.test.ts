// A user's own pure-Python wheels: uploaded through protocol v1 (the SDK's install), or written in
// the session and given to micropip.install; bounded, checked, and kept across hibernation.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { makeWheel } from "../helpers/repository.ts";
import { hibernateAndWake, run, startTestRuntime } from "../helpers/sandboxes.ts";
import { startTestServer } from "../helpers/server.ts";

const runtime = await startTestRuntime({ poolSize: 1, limits: { maxWheelBytes: 64 * 1024 } });
const mine = makeWheel({ name: "my-tools", version: "0.3", files: { "my_tools/__init__.py": "def double(x):\n    return 2 * x\n", "my_tools/extra.py": "NOTE = 'imported after the wake'\n" } });

test("an uploaded wheel installs into its own session, and stays installed across hibernation", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal(await sandbox.installWheel(mine.fileName, mine.bytes), null);
  assert.equal((await run(sandbox, "import my_tools\nmy_tools.double(21)")).value, "42");
  const woken = await hibernateAndWake(runtime, sandbox);
  const result = await run(woken, "import my_tools.extra, importlib.metadata\nmy_tools.double(4), my_tools.extra.NOTE, importlib.metadata.version('my-tools')");
  assert.equal(result.error, null, result.error?.message);
  assert.equal(result.value, "(8, 'imported after the wake', '0.3')");
  await woken.close();
  const other = await runtime.pool.take();
  assert.equal((await run(other, "import my_tools")).error?.type, "ModuleNotFoundError", "another session has none of it");
  await other.close();
});

test("micropip.install of a wheel file the session wrote", async () => {
  const sandbox = await runtime.pool.take();
  await sandbox.setVars({ wheel_hex: mine.bytes.toString("hex") });
  const result = await run(sandbox, `import micropip\nopen('/tmp/${mine.fileName}', 'wb').write(bytes.fromhex(wheel_hex))\nmicropip.install('emfs:/tmp/${mine.fileName}')\nimport my_tools\nmy_tools.double(5), micropip.list()['my-tools']`);
  assert.equal(result.error, null, result.error?.message);
  assert.equal(result.value, "(10, '0.3')");
  await sandbox.close();
});

test("what is not a pure-Python wheel within the cap is refused with the reason", async () => {
  const sandbox = await runtime.pool.take();
  const compiled = makeWheel({ name: "fast", files: { "fast/__init__.py": "", "fast/_speed.so": "\0asm" } });
  const big = makeWheel({ name: "big", files: { "big.py": `DATA = ${JSON.stringify(Array.from({ length: 40_000 }, (_, index) => index.toString(36)).join(""))}\n` } });
  const refusals: Array<[string, Uint8Array, RegExp]> = [
    ["fast-1.0-py3-none-any.whl", compiled.bytes, /holds compiled code \(fast\/_speed\.so\)/],
    ["thing-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl", mine.bytes, /not a pure-Python wheel/],
    ["notes.txt", mine.bytes, /not a wheel's file name/],
    ["broken-1.0-py3-none-any.whl", Buffer.from("no zip here"), /not a valid wheel/],
    [big.fileName, big.bytes, /at most 65536 may be installed \(PACKAGE_MAX_WHEEL_MB\)/],
  ];
  for (const [filename, bytes, reason] of refusals) {
    const error = await sandbox.installWheel(filename, bytes);
    assert.match(error?.message ?? "no error", reason, filename);
  }
  assert.equal((await run(sandbox, "1 + 1")).value, "2");
  await sandbox.close();
});

test("the SDK's install goes through protocol v1 and answers with a result", async () => {
  const server = await startTestServer();
  const session = await ReplSession.open(server.url, { token: await server.token() });
  try {
    const installed = await session.install(mine.bytes, mine.fileName);
    assert.equal(installed.success, true);
    assert.equal((await session.execute("import my_tools\nmy_tools.double(3)")).value, "6");
    const refused = await session.install(Buffer.from("junk"), "junk-1.0-py3-none-any.whl");
    assert.equal(refused.success, false);
    assert.match(refused.error?.message ?? "", /not a valid wheel/);
  } finally {
    await session.close();
    await server.shutdown();
  }
});
