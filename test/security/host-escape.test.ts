// Untrusted Python must not get to run JavaScript of its own, nor reach the globals of the
// thread that runs it (Deno, postMessage, process, require): those are the way out of Pyodide.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertAnswers,
  assertGlobalNotCaught,
  assertObtainedOnly,
  assertRaises,
  assertRefused,
  attack,
  attackExpression,
  attackFuture,
  reachableNames,
  WORKER_GLOBAL,
} from "./attack.ts";

const CODE_GENERATION_REFUSED = /^JsException: EvalError: Code generation from strings disallowed/;

/** Names that would hand Python the JS thread's global object or a capability on it. */
const HOST_GLOBALS = [
  "Deno", "globalThis", "self", "window", "global", "process", "require", "module", "postMessage",
  "importScripts", "Worker", "fetch", "eval", "Function", "WebAssembly", "import", "loadScript",
];

// One sandbox for the whole file: every attack here must leave it working.
// (At the top level: the helper closes the runtime in an `after` hook of the scope it starts in.)
const runtime = await startTestRuntime();
const sandbox = await runtime.pool.take();

describe("Python cannot reach the JavaScript host", () => {
  /**
   * A test whose attack must raise an error matching `pattern` and leave the sandbox working.
   * `future`: the expression returns a promise, whose rejection is the refusal.
   */
  function refuses(name: string, expression: string, pattern: RegExp, setup = "", future = false): void {
    test(name, async () => {
      const attempt = future ? attackFuture : attackExpression;
      assertRaises(await attempt(sandbox, expression, setup), pattern);
      await assertAnswers(sandbox);
    });
  }

  refuses(
    "the Function constructor behind to_js({}) refuses to compile code",
    `to_js({}).constructor.constructor("return globalThis")()`,
    CODE_GENERATION_REFUSED,
    "from pyodide.ffi import to_js",
  );

  refuses(
    "the Function constructor behind pyodide_js refuses to compile code",
    `pyodide_js.constructor.constructor("return globalThis")()`,
    CODE_GENERATION_REFUSED,
    "import pyodide_js",
  );

  refuses(
    "the constructor of a JS function handed to Python (the host sleep) refuses to compile code",
    `_wasm_repl._host_sleep.constructor("return globalThis")()`,
    CODE_GENERATION_REFUSED,
    "import _wasm_repl",
  );

  refuses(
    "the AsyncFunction constructor behind an async Pyodide API refuses to compile code",
    `pyodide_js.loadPackage.constructor("return globalThis")`,
    CODE_GENERATION_REFUSED,
    "import pyodide_js",
  );

  refuses(
    "emscripten_run_script, reachable on the Emscripten module, refuses to evaluate",
    `m._emscripten_run_script(m.stringToNewUTF8("globalThis.escaped = true"))`,
    CODE_GENERATION_REFUSED,
    "import pyodide_js\nm = pyodide_js._module",
  );

  refuses(
    "pyodide.code.run_js finds no eval to call",
    `run_js("globalThis")`,
    /^ImportError: cannot import name 'eval' from 'js'/,
    "from pyodide.code import run_js",
  );

  refuses("js.eval does not exist", `js.eval("globalThis")`, /^AttributeError: eval$/, "import js");

  refuses("from js import Deno finds nothing", `__import__("js").Deno`, /^AttributeError: Deno$/);

  refuses(
    "loadPackage refuses a data: URL (no dynamic import of attacker code)",
    `pyodide_js.loadPackage("data:text/javascript,globalThis.escaped=true")`,
    /^JsException: Error: 'data:text\/javascript,.*' is not a valid package name or URL/,
    "import pyodide_js",
    true,
  );

  test("the js module is an empty object: no global of the JS thread is in it", async () => {
    assert.deepEqual(await reachableNames(sandbox, ["js"], HOST_GLOBALS), []);
  });

  test("no object Pyodide exposes to Python carries the thread's globals or a script loader", async () => {
    const containers = [
      "pyodide_js",
      "pyodide_js._api",
      "pyodide_js._api.config",
      "pyodide_js._api.config.jsglobals",
      "pyodide_js._api.runtimeEnv",
      "pyodide_js._module",
      "pyodide_js.FS",
      "pyodide_js.ffi",
    ];
    assert.deepEqual(await reachableNames(sandbox, containers, HOST_GLOBALS), []);
  });
});

describe("Python cannot catch the JS thread's global object", () => {
  test("a getter planted on Object.prototype cannot be planted (frozen), so it never sees the global object", async () => {
    await assertGlobalNotCaught(sandbox);
    await assertAnswers(sandbox);
  });

  test("no callback JS runs for Python, at once or later, gets the global object as `this`", async () => {
    const setup = `${WORKER_GLOBAL}
import asyncio
async def callback_receivers():
    caught = []
    grab = create_proxy(lambda this, *args: caught.append(this), capture_this=True)
    for method in ("map", "forEach", "filter", "some", "find"):
        getattr(to_js([1]), method)(grab)
    pyodide_js._module.safeSetTimeout(grab, 0)
    pyodide_js._api.scheduleCallback(grab, 0)
    pyodide_js._api.scheduleCallback(grab, 5)
    pyodide_js.loadPackage([], messageCallback=create_proxy(lambda message: None)).then(grab)
    pyodide_js._module.requestAnimationFrame(grab)
    await asyncio.sleep(0.1)
    return {"calls": len(caught), "globals": [str(this) for this in caught if is_global(this)]}`;
    const { outcome } = await attackFuture(sandbox, `asyncio.ensure_future(callback_receivers())`, setup);
    const summary = outcome?.value as { calls: number; globals: string[] } | undefined;
    assert.ok(summary, `the probe failed: ${outcome?.denied}: ${outcome?.message}`);
    assert.deepEqual(summary.globals, [], "a callback received the global object as `this`");
    // The probe must have run: the synchronous callbacks alone make five calls.
    assert.ok(summary.calls >= 5, `only ${summary.calls} callbacks ran`);
    await assertAnswers(sandbox);
  });

  test("stack-trace call sites (Error.prepareStackTrace) give Python no frame whose `this` is the global object", async () => {
    const probe = `${WORKER_GLOBAL}
def attack():
    Object = to_js({}).constructor
    try:
        Object.constructor("return this")
    except Exception as error:
        Error = Object.getPrototypeOf(Object.getPrototypeOf(error.js_error)).constructor
    receivers = []
    def prepare(error, sites):
        receivers.extend(site.getThis() for site in sites)
        return "prepared"
    original = getattr(Error, "prepareStackTrace", None)
    Error.prepareStackTrace = create_proxy(prepare)
    try:
        for trigger in (lambda: Object.constructor("return this"), lambda: pyodide_js.FS.readdir("/no/such/dir")):
            try:
                trigger()
            except Exception as error:
                getattr(error, "js_error", None) and error.js_error.stack
    finally:
        Error.prepareStackTrace = original
    assert receivers, "no call site was reported"
    return [str(this) for this in receivers if is_global(this)]`;
    assertObtainedOnly(await attack(sandbox, probe), "[]");
    await assertAnswers(sandbox);
  });

  test("Python cannot run JavaScript of its own in a Worker started from a data: URL", async () => {
    await assertGlobalNotCaught(sandbox);
    const setup = `${WORKER_GLOBAL}
import asyncio
def start_worker():
    js_global = worker_global()
    ran = asyncio.get_event_loop().create_future()
    source = "data:text/javascript,postMessage('attacker code ran with Deno ' + Deno.version.deno); close()"
    worker = js_global.Worker.new(source, js_object(type="module"))
    worker.onmessage = create_proxy(lambda event: ran.done() or ran.set_result(event.data))
    worker.onerror = create_proxy(lambda event: ran.done() or ran.set_exception(RuntimeError(str(event.message))))
    return ran`;
    // The attack's future is left unsettled when no code ran; reading it then raises InvalidStateError.
    const run = await attackFuture(sandbox, "start_worker()", setup);
    await assertRefused(run, "attacker code ran");
    await assertAnswers(sandbox);
  });
});
