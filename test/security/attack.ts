// Shared helpers for the security tests: run untrusted Python as a cell, read back what the
// attack obtained or how it was refused, and check that the sandbox is still contained afterwards.
//
// An attack on the host is refused when it raises (any exception: which layer stops it is an
// implementation detail that hardening keeps moving) or ends its own sandbox with a recorded
// cause. Either way it must obtain nothing, and each test also checks the host-side effect.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { run } from "../helpers/sandboxes.ts";
import type { SandboxRuntime } from "../../server/sandbox/runtime.ts";
import type { CellRequest, CellResult, Sandbox } from "../../server/sandbox/sandbox.ts";

/** What an attack's `attack()` function did: returned something (obtained) or raised (denied). */
export interface Outcome {
  obtained?: string;
  /** What attack() returned, when it is JSON. */
  value?: unknown;
  denied?: string;
  message?: string;
}

export interface AttackRun {
  sandbox: Sandbox;
  result: CellResult;
  /** Null when the cell never reported (the sandbox ended, or the attack broke the output). */
  outcome: Outcome | null;
}

/** The first line of the host's /etc/passwd: text no attack may bring back. */
export const PASSWD_LINE = readFileSync("/etc/passwd", "utf8").split("\n")[0]!;

const MARKER = "@@security-outcome@@";

/** Calls the cell's `attack()` and prints one marker line describing what happened. */
const REPORT = `
def _report(action):
    import json
    from pyodide.ffi import JsBuffer
    try:
        value = action()
        if isinstance(value, JsBuffer):
            value = value.to_bytes()  # a JS byte array's repr would hide what the attack read
        outcome = {"obtained": repr(value)[:4000]}
        try:
            outcome["value"] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            pass
    except BaseException as error:
        outcome = {"denied": type(error).__name__, "message": str(error)[:4000]}
    print(${JSON.stringify(MARKER)} + json.dumps(outcome), flush=True)
_report(attack)
`;

/** Runs `code`, which must define `attack()`, and reports what attack() returned or raised. */
export async function attack(sandbox: Sandbox, code: string, request: Partial<CellRequest> = {}): Promise<AttackRun> {
  const result = await run(sandbox, `${code.trim()}\n${REPORT}`, request);
  const line = result.stdout.split("\n").find((text) => text.startsWith(MARKER));
  return { sandbox, result, outcome: line ? (JSON.parse(line.slice(MARKER.length)) as Outcome) : null };
}

/** Runs a Python expression as the whole attack. */
export function attackExpression(sandbox: Sandbox, expression: string, setup = ""): Promise<AttackRun> {
  return attack(sandbox, `${setup.trim()}\ndef attack():\n    return ${expression}`);
}

/**
 * Runs an expression that returns a promise or future (most of Pyodide's loaders), lets the
 * sandbox's event loop settle it between cells, and reports its result or exception. Every
 * future is consumed, so nothing is printed to stderr later.
 */
export async function attackFuture(sandbox: Sandbox, expression: string, setup = ""): Promise<AttackRun> {
  const start = await run(
    sandbox,
    `${setup.trim()}\ntry:\n    _pending = ${expression}\nexcept BaseException as _error:\n    _pending = _error`,
  );
  assert.equal(start.error, null, `starting the attack failed: ${start.error?.message}`);
  for (let poll = 0; poll < 100; poll++) {
    const settled = await run(sandbox, `isinstance(_pending, BaseException) or not hasattr(_pending, "done") or _pending.done()`);
    if (settled.value === "True") break;
    await delay(20);
  }
  return attack(
    sandbox,
    `def attack():
    if isinstance(_pending, BaseException):
        raise _pending
    return _pending.result() if hasattr(_pending, "done") else _pending`,
  );
}

/** Everything an attack sent back to the host (the outcome decoded), as one text to search for secrets. */
function reportedText({ result, outcome }: AttackRun): string {
  const sent = [outcome?.obtained, outcome?.message, result.stdout, result.stderr, result.value, result.error?.message, result.error?.traceback];
  return sent.join("\n");
}

/**
 * Asserts that the attack was refused: it raised (any exception), or it ended its sandbox with
 * a recorded cause. Nothing the cell reported may contain any of `secrets` (host data the
 * attack's own code does not contain).
 */
export async function assertRefused(attackRun: AttackRun, ...secrets: string[]): Promise<void> {
  const { sandbox, result, outcome } = attackRun;
  const reported = reportedText(attackRun);
  for (const secret of secrets) assert.ok(!reported.includes(secret), `the attack got hold of ${JSON.stringify(secret)}: ${reported.slice(0, 2000)}`);
  if (outcome) return assert.equal(outcome.obtained, undefined, `the attack obtained ${outcome.obtained}`);
  assert.equal(result.state_preserved, false, `the cell reported nothing, yet the sandbox lives: ${JSON.stringify(result)}`);
  assert.ok((await sandbox.exited).cause, "the sandbox ended without a recorded cause");
}

/** The outcome of an attack that must have reported one (its sandbox did not end). */
function reported({ result, outcome }: AttackRun): Outcome {
  assert.ok(outcome, `the attack did not report; cell error: ${result.error?.type}: ${result.error?.message}`);
  return outcome;
}

/** Asserts that the attack raised a Python error matching `pattern` ("Type: message"). */
export function assertRaises(attackRun: AttackRun, pattern: RegExp): void {
  const outcome = reported(attackRun);
  assert.equal(outcome.obtained, undefined, `the attack obtained ${outcome.obtained}`);
  assert.match(`${outcome.denied}: ${outcome.message}`, pattern);
}

/** Asserts that the attack returned exactly `expected` (the repr of a harmless value). */
export function assertObtainedOnly(attackRun: AttackRun, expected: string): void {
  const outcome = reported(attackRun);
  assert.equal(outcome.denied, undefined, `the attack raised ${outcome.denied}: ${outcome.message}`);
  assert.equal(outcome.obtained, expected);
}

/** The sandbox still runs a normal cell. */
export async function assertAnswers(sandbox: Sandbox): Promise<void> {
  const result = await run(sandbox, "1 + 1");
  assert.equal(result.error, null, `the sandbox no longer answers: ${result.error?.message}`);
  assert.equal(result.value, "2");
}

/** After an attack: the sandbox still answers, or it has ended with a recorded cause. */
export async function assertContained(sandbox: Sandbox): Promise<void> {
  if (sandbox.alive) return assertAnswers(sandbox);
  const exit = await sandbox.exited;
  assert.ok(exit.cause, "the sandbox ended without a recorded cause");
}

/**
 * The sandbox a test file's attacks share: the same one while it lives, a fresh one from the
 * pool once an attack has ended it (ending its sandbox is a legitimate refusal).
 */
export function sharedSandbox(runtime: SandboxRuntime): () => Promise<Sandbox> {
  let current: Promise<Sandbox> | null = null;
  return async () => {
    if (!current || !(await current).alive) current = runtime.pool.take();
    return current;
  };
}

/** Names in `names` that Python finds as attributes of each JS object in `containers`. */
export async function reachableNames(sandbox: Sandbox, containers: string[], names: string[]): Promise<string[]> {
  const { outcome, result } = await attack(
    sandbox,
    `import js, pyodide_js
def attack():
    found = []
    for label, container in [${containers.map((c) => `(${JSON.stringify(c)}, ${c})`).join(", ")}]:
        for name in ${JSON.stringify(names)}:
            try:
                getattr(container, name)
            except AttributeError:
                continue
            found.append(label + "." + name)
    return found`,
  );
  assert.ok(Array.isArray(outcome?.value), `the search failed: ${outcome?.denied ?? result.error?.type}: ${outcome?.message ?? result.error?.message}`);
  return outcome.value as string[];
}

/** How Python gets bytes onto file descriptor 1, which is the host protocol's pipe. */
export type PipeRoute = "setStdout" | "nodefs";

const PIPE_WRITERS: Record<PipeRoute, string> = {
  // Pyodide's default stdout under Node: a raw fs.writeSync(1, ...).
  setStdout: `
pyodide_js.setStdout()
def send_raw(data):
    sys.stdout.buffer.write(data)
    sys.stdout.flush()`,
  // NODEFS's stream write on a forged stream whose host descriptor is 1.
  nodefs: `
from pyodide.ffi import to_js
def send_raw(data):
    pyodide_js.FS.filesystems.NODEFS.stream_ops.write(to_js({"nfd": 1}), to_js(data), 0, len(data), None)`,
};

/**
 * Python that defines send_raw(bytes) and send(message) to write bytes or frames straight onto
 * the host protocol's pipe, and forged_result(**fields) to build a cell result. `cell` is the
 * host's id of the running cell (valid in a sandbox that never received set_vars).
 */
export function pipeWriter(route: PipeRoute = "setStdout"): string {
  return `
import json, struct, sys, _wasm_repl
import pyodide_js
cell = _wasm_repl.execution_count
${PIPE_WRITERS[route].trim()}
def send(message):
    header = json.dumps(message).encode()
    send_raw(struct.pack("<II", len(header), 0) + header)
def forged_result(**fields):
    message = {"type": "result", "cell": cell, "success": True, "value": None, "locals": None,
               "execution_count": cell, "execution_time": 0, "error": None, "output_dropped_bytes": 0}
    message.update(fields)
    return message
`;
}

/**
 * Python that defines worker_global(): the global object of the JS thread running Python, if
 * Python can catch it, and is_global(value). The route: a getter planted on Object.prototype is
 * also found on the global object's prototype chain, so Emscripten's
 * `globalThis.requestAnimationFrame` lookup (Module.requestAnimationFrame, callable from Python)
 * runs it with `this` = the global object. The global is recognised by what no hardening removes
 * (postMessage, its class name), not by Deno. Raises NoGlobalObject when the capture fails:
 * the getter cannot be planted (the prototypes are frozen), or it never sees the global object.
 */
export const WORKER_GLOBAL = `
import pyodide_js
from pyodide.ffi import to_js, create_proxy
class NoGlobalObject(RuntimeError):
    pass
def js_object(**fields):
    return to_js(fields, dict_converter=to_js({}).constructor.fromEntries)
def is_global(value):
    return value is not None and (hasattr(value, "postMessage") or "GlobalScope" in str(value))
def worker_global():
    Object = to_js({}).constructor
    caught = []
    getter = create_proxy(lambda this: caught.append(this), capture_this=True)
    try:
        Object.defineProperty(Object.prototype, "requestAnimationFrame", js_object(get=getter, configurable=True))
    except Exception as error:
        raise NoGlobalObject(f"the getter could not be planted: {error}") from None
    try:
        pyodide_js._module.requestAnimationFrame(create_proxy(lambda *args: None))
    finally:
        delattr(Object.prototype, "requestAnimationFrame")
    for candidate in caught:
        if is_global(candidate):
            return candidate
    raise NoGlobalObject("the getter never ran on the global object")
`;

/** Asserts the premise of every attack through the global object: Python cannot catch it. */
export async function assertGlobalNotCaught(sandbox: Sandbox): Promise<void> {
  const capture = await attackExpression(sandbox, `str(worker_global())`, WORKER_GLOBAL);
  assertRaises(capture, /^NoGlobalObject: /);
}

/**
 * Python that defines cache_store(name, url, text) and cache_load(name, url), coroutines on the
 * Cache API of the caught global object.
 */
export const CACHE_API = `${WORKER_GLOBAL}
async def cache_store(name, url, text):
    js_global = worker_global()
    cache = await js_global.caches.open(name)
    await cache.put(url, js_global.Response.new(text))
    return "stored"
async def cache_load(name, url):
    cache = await worker_global().caches.open(name)
    response = await cache.match(url)
    return None if response is None else await response.text()
`;

/** Python: runs a cache coroutine as a future, for attackFuture. */
export function cacheCall(call: string): [expression: string, setup: string] {
  return [`asyncio.ensure_future(${call})`, `import asyncio\n${CACHE_API}`];
}
