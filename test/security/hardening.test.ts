// No byte of session state runs before the sandbox is locked down, and no sandbox writes to the
// host's disk: a session plants code where a waking sandbox runs it (the helper the worker used
// to call after a restore, and the builtins the worker's own restore glue calls), hibernates,
// wakes, and reports what its code found; hostile cells on every boot path try every storage API.
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import { CACHE_API, WORKER_GLOBAL } from "./attack.ts";

const runtime = await startTestRuntime({ poolSize: 1 });

/** Every file under `dir` with its size and modification time: what a write would change. */
async function diskState(dir: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    state.set(path, `${info.size} ${info.mtimeMs}`);
  }
  return state;
}

// Runs wherever it is planted: what the JavaScript world looks like from there, and a write
// through every storage the caught global object offers. (WORKER_GLOBAL is executed only when
// the probe runs: a snapshot cannot hold the JavaScript objects it imports.)
const PLANT = `
import builtins
builtins.wake_report = []
_WORKER_GLOBAL = ${JSON.stringify(WORKER_GLOBAL)}
def _probe(where):
    scope = {}
    try:
        exec(_WORKER_GLOBAL, scope)
        g = scope["worker_global"]()
    except BaseException as error:
        builtins.wake_report.append({"where": where, "global": False, "why": type(error).__name__})
        return
    seen = {"where": where, "global": True}
    for name in ["caches", "fetch", "Worker", "indexedDB", "localStorage", "BroadcastChannel"]:
        seen[name] = getattr(g, name, None) is not None
    deno = getattr(g, "Deno", None)
    seen["Deno"] = sorted(k for k in dir(deno) if not k.startswith("_")) if deno is not None else []
    try:
        deno.writeTextFileSync("/tmp/wasm-repl-wake-probe", "x")
        seen["wrote"] = True
    except BaseException as error:
        seen["wrote"] = type(error).__name__
    if seen["caches"]:
        g.caches.open("wake")  # the open creates the Cache API's directory on the host's disk
    builtins.wake_report.append(seen)
import _wasm_repl
_planted_after_restore = _wasm_repl.after_restore
def _after_restore(*args):
    _probe("after_restore")
    return _planted_after_restore(*args)
_wasm_repl.after_restore = _after_restore
_real_compile = builtins.compile
def _compile(*args, **kwargs):
    # The worker's glue compiles its helpers after the restore (earlier, Pyodide is still half loaded).
    if len(args) > 1 and args[1] == "<wasm-repl>":
        _probe("compile")
    return _real_compile(*args, **kwargs)
`;

test("code a session plants runs at wake only after every permission and dangerous global is gone", async () => {
  const sandbox = await runtime.pool.take();
  const planted = await run(sandbox, PLANT);
  assert.equal(planted.error, null);
  // Armed last, so that nothing of the planting cell itself ran through it.
  assert.equal((await run(sandbox, "builtins.compile = _compile\nbuiltins.wake_report = []")).error, null);
  const woken = await runtime.restore(await sandbox.snapshot());
  const report = await run(woken, "import builtins, json\nprint(json.dumps(builtins.wake_report))");
  assert.equal(report.error, null);
  const seen = JSON.parse(report.stdout) as Record<string, unknown>[];
  assert.ok(seen.length > 0, "the planted code ran while the sandbox woke");
  for (const probe of seen) {
    if (!probe.global) continue;
    assert.deepEqual(
      { caches: probe.caches, fetch: probe.fetch, Worker: probe.Worker, indexedDB: probe.indexedDB, localStorage: probe.localStorage, BroadcastChannel: probe.BroadcastChannel },
      { caches: false, fetch: false, Worker: false, indexedDB: false, localStorage: false, BroadcastChannel: false },
      `at ${probe.where}`,
    );
    assert.deepEqual((probe.Deno as string[]).filter((name) => name !== "build"), [], `at ${probe.where}: nothing of Deno but its build description is left`);
    assert.notEqual(probe.wrote, true);
  }
  assert.ok(!seen.some((probe) => probe.where === "after_restore"), "the worker calls the server's after_restore, not the session's");
  await woken.close();
  await sandbox.close();
});

test("no sandbox writes a byte to the host's disk: pool boot, hibernate and wake, reset", async () => {
  const cacheDir = runtime.environment.cacheDir;
  const before = await diskState(cacheDir);
  const hostile = `${CACHE_API}
import asyncio
tried = []
for name in ["a", "b"]:
    try:
        tried.append(asyncio.ensure_future(cache_store(name, "https://x/" + name, "Z" * 100_000)))
    except BaseException as error:
        tried.append(type(error).__name__)
`;
  const booted = await runtime.pool.take(); // pool boot
  assert.equal((await run(booted, PLANT + "\nbuiltins.compile = _compile")).error, null);
  const woken = await runtime.restore(await booted.snapshot()); // hibernate and wake, with planted code
  assert.equal((await run(booted, hostile)).error, null);
  assert.equal((await run(woken, hostile)).error, null);
  await booted.close(); // a reset: the session's next sandbox comes from the pool
  const reset = await runtime.pool.take();
  assert.equal((await run(reset, hostile)).error, null);
  // Each sandbox answers a cell after the attempts: whatever they started had its turn.
  for (const sandbox of [woken, reset]) assert.equal((await run(sandbox, "1")).value, "1");
  await Promise.all([woken.close(), reset.close()]);
  assert.deepEqual(await diskState(cacheDir), before);
});
