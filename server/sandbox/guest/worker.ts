// The Pyodide interpreter, on a worker thread so the sandbox's main thread stays free to relay
// interrupts and output while a cell runs. Everything this thread posts is relayed to the host,
// which validates it: Python can reach this thread's JavaScript, so nothing here is trusted.
/// <reference lib="deno.worker" />
import { MAX_PROMPT_CHARS, RESULT_CAPS, type GuestMessage, type GuestSettings, type HostMessage, type LocalsMode, type StreamName } from "../ipc.ts";
import { confineTimers } from "./background.ts";
import { freezePrototypes, removeDangerousGlobals } from "./harden.ts";
import { CallWaiter } from "./host-calls.ts";
import { sparseRestoreFactory } from "./restore.ts";
import { revokeAllPermissions } from "./permissions.ts";

export interface WorkerInit extends GuestSettings {
  type: "init";
  interrupt: SharedArrayBuffer;
  /** Where the main thread writes answers to llm_query (see host-calls.ts). */
  calls: SharedArrayBuffer;
  /** Restore mode: the session snapshot to boot from. */
  snapshot?: Uint8Array;
}

type PyCallable = (...args: unknown[]) => unknown;

/** The part of Pyodide's API this worker uses. */
interface Pyodide {
  version: string;
  runPython(code: string, options?: { globals?: unknown }): unknown;
  toPy(value: unknown): unknown;
  pyimport(name: string): Record<string, PyCallable>;
  makeMemorySnapshot(): Uint8Array<ArrayBuffer>;
  setStdout(writer: object): void;
  setStderr(writer: object): void;
  setStdin(options: object): void;
  setInterruptBuffer(buffer: Int32Array): void;
  checkInterrupt(): void;
  _api: { config: { _loadSnapshot?: unknown } };
}

let pyodide: Pyodide;
let interruptWord: Int32Array;
let callWaiter: CallWaiter;
let maxOutputBytes = 0;

// Output of the cell that is running: counted here so that bytes past the cap never cross.
let cell = 0;
let outputBytes = 0;
let droppedBytes = 0;

// Bound now: after hardening, nothing on the global object is relied upon.
const postToMain = self.postMessage.bind(self);
const collectGarbage = (globalThis as { gc?: () => void }).gc;
const timers = confineTimers();

function post(message: GuestMessage, transfer: Transferable[] = []): void {
  postToMain(message, transfer);
}

/**
 * Refuses WebAssembly memory growth past the cap, so that an allocation past it fails inside
 * the allocator and Python raises MemoryError instead of the process being killed.
 */
function capWasmMemory(capBytes: number): void {
  const wrapImports = (imports: WebAssembly.Imports | undefined) => {
    const env = imports?.env as Record<string, unknown> | undefined;
    const resize = env?.emscripten_resize_heap;
    if (env && typeof resize === "function") {
      env.emscripten_resize_heap = (requested: number) => ((requested >>> 0) > capBytes ? 0 : resize(requested));
    }
    return imports;
  };
  const instantiate = WebAssembly.instantiate;
  const instantiateStreaming = WebAssembly.instantiateStreaming;
  // deno-lint-ignore no-explicit-any
  (WebAssembly as any).instantiate = (source: any, imports?: WebAssembly.Imports) => instantiate(source, wrapImports(imports));
  // deno-lint-ignore no-explicit-any
  (WebAssembly as any).instantiateStreaming = (source: any, imports?: WebAssembly.Imports) =>
    instantiateStreaming(source, wrapImports(imports));
}

function outputWriter(name: StreamName) {
  const decoder = new TextDecoder();
  return {
    isatty: true, // line-buffered, so output streams on newline as well as on flush
    write(buffer: Uint8Array): number {
      const room = Math.max(0, maxOutputBytes - outputBytes);
      const kept = buffer.byteLength <= room ? buffer : buffer.subarray(0, room);
      outputBytes += kept.byteLength;
      droppedBytes += buffer.byteLength - kept.byteLength;
      const text = decoder.decode(kept, { stream: kept === buffer });
      if (text) post({ type: "stream", cell, name, text });
      return buffer.byteLength;
    },
  };
}

/** time.sleep that neither burns CPU nor ignores interrupts: it waits on the interrupt word. */
function hostSleep(seconds: number): void {
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return;
    Atomics.wait(interruptWord, 0, 0, left);
    if (Atomics.load(interruptWord, 0) !== 0) {
      pyodide.checkInterrupt(); // raises KeyboardInterrupt into the sleeping Python frame
      return;
    }
  }
}

/**
 * llm_query and friends: Python hands a JSON request and blocks until the host answers with a
 * JSON list of texts. An interrupt (or the cell's deadline) ends the wait with KeyboardInterrupt.
 */
function hostLlm(requestJson: string): string {
  const request = JSON.parse(requestJson);
  return callWaiter.call(
    (call) => post({ type: "llm_request", cell, call, prompts: request.prompts, model: request.model, recursive: request.recursive }),
    () => pyodide.checkInterrupt(),
  );
}

/**
 * Revokes every permission and removes what needs none (harden.ts). Runs before any byte of a
 * snapshot reaches the interpreter's heap: from then on only session code can run, and it finds
 * nothing to escape with.
 */
function lockDown(): void {
  revokeAllPermissions();
  removeDangerousGlobals();
}

// Installs the server's helpers as the module `_wasm_repl` (frames of it are named "<wasm-repl>").
// After a restore it runs again: the module's code is then the server's own, whatever the session
// did to the module it had; only the session's data is carried over (bootstrap.py, adopt).
const INSTALL_HELPERS =
  `import sys, types\n_m = types.ModuleType("_wasm_repl")\n` +
  `exec(compile(_source, "<wasm-repl>", "exec"), _m.__dict__)\n_m.adopt(sys.modules.get("_wasm_repl"))\n` +
  `sys.modules["_wasm_repl"] = _m\ndel _m, _source`;

function installHelpers(source: string): Record<string, PyCallable> {
  pyodide.runPython(INSTALL_HELPERS, { globals: pyodide.toPy({ _source: source }) });
  return pyodide.pyimport("_wasm_repl");
}

/**
 * Loads Pyodide. Every file it needs is read first; the snapshot restore happens only after
 * lockDown(), from bytes already in memory.
 */
async function load(init: WorkerInit, bootstrap: string): Promise<Pyodide> {
  const { loadPyodide } = (await import(`${init.indexURL}pyodide.mjs`)) as {
    loadPyodide(options: object): Promise<Pyodide>;
  };
  const common = {
    indexURL: init.indexURL,
    // The `js` module is an empty object: Python gets no handle on this thread's globals.
    jsglobals: Object.freeze(Object.create(null)),
    env: { HOME: "/home/pyodide" },
    stdout: () => {},
    stderr: () => {},
    // Read now rather than while Pyodide finishes loading, after the permissions are gone.
    lockFileContents: await Deno.readTextFile(`${init.indexURL}pyodide-lock.json`),
    packageBaseUrl: init.indexURL,
  };
  if (init.mode === "build") {
    // A fresh interpreter: nothing but Pyodide's and the server's code runs in it.
    const fresh = await loadPyodide({ ...common, _makeSnapshot: true });
    pyodide = fresh;
    installHelpers(bootstrap);
    return fresh;
  }
  const snapshot = init.snapshot ?? (await Deno.readFile(init.snapshotPath));
  const { default: createPyodideModule } = await import(`${init.indexURL}pyodide.asm.mjs`);
  return await loadPyodide({
    ...common,
    // Every sandbox can be snapshotted again: that is how a session hibernates.
    _makeSnapshot: true,
    _loadSnapshot: snapshot,
    // The module factory resolves once the WebAssembly and the standard library are in (every
    // file read), before Pyodide copies the snapshot into the heap.
    createPyodideModule: sparseRestoreFactory(createPyodideModule, snapshot.byteLength, lockDown),
  });
}

let guestConfig = "";
let runCell: PyCallable;
let finishCell: PyCallable;
let setVars: PyCallable;
let addContext: PyCallable;
let beforeSnapshot: PyCallable;
let afterRestore: PyCallable;

async function boot(init: WorkerInit): Promise<void> {
  const started = performance.now();
  interruptWord = new Int32Array(init.interrupt);
  callWaiter = new CallWaiter(init.calls, interruptWord);
  maxOutputBytes = init.maxOutputBytes;
  capWasmMemory(init.memoryCapBytes);
  const bootstrap = await Deno.readTextFile(init.bootstrapPath);
  pyodide = await load(init, bootstrap);
  freezePrototypes();
  if (init.mode === "build") {
    const snapshot = pyodide.makeMemorySnapshot();
    postToMain({ type: "snapshot", bytes: snapshot.byteLength, data: snapshot }, [snapshot.buffer]);
    return;
  }
  pyodide.setStdout(outputWriter("stdout"));
  pyodide.setStderr(outputWriter("stderr"));
  // Standard input is the host protocol's pipe; Python must never read it.
  pyodide.setStdin({ error: true });
  pyodide.setInterruptBuffer(interruptWord);
  // Pyodide keeps its config, and with it the snapshot's bytes: 30 MiB resident for nothing.
  pyodide._api.config._loadSnapshot = undefined;
  const helpers = installHelpers(bootstrap);
  // Held from here on: what the worker calls is the server's code, not attributes a cell rebinds.
  ({ run_cell: runCell, finish_cell: finishCell, set_vars: setVars, add_context: addContext, before_snapshot: beforeSnapshot, after_restore: afterRestore } = helpers);
  guestConfig = JSON.stringify({ memory_cap_mb: Math.round(init.memoryCapBytes / 1024 / 1024), caps: RESULT_CAPS, max_prompt_chars: MAX_PROMPT_CHARS });
  // A session's own snapshot keeps its random state; only the shared base snapshot needs reseeding.
  afterRestore(hostSleep, hostLlm, guestConfig, init.mode === "boot");
  collectGarbage?.(); // return the boot's garbage before the sandbox idles in the pool
  timers.closeBoot();
  post({ type: "ready", boot_ms: performance.now() - started, pyodide: pyodide.version });
}

/** Runs a cell, then what it scheduled (background.ts), then sends its result. */
async function run(message: Extract<HostMessage, { type: "run" }>): Promise<void> {
  cell = message.cell;
  outputBytes = 0;
  droppedBytes = 0;
  Atomics.store(interruptWord, 0, 0);
  timers.beginCell();
  runCell(message.code);
  const cut = await timers.settle(() => Atomics.load(interruptWord, 0) !== 0);
  const result = JSON.parse(finishCell(message.locals satisfies LocalsMode, cut) as string);
  // Fields of ours come last: what Python returned cannot set them.
  post({ ...result, type: "result", cell, output_dropped_bytes: droppedBytes });
}

function assign(message: Extract<HostMessage, { type: "set_vars" }>): void {
  applied(message.cell, setVars(JSON.stringify(message.vars)));
}

function addPayload(message: Extract<HostMessage, { type: "add_context" }> & { payload: Uint8Array }): void {
  // The bytes go to Python as they are: one copy into its heap and a C decode, far cheaper than
  // making a JavaScript string of them and converting that.
  applied(message.cell, addContext(message.kind, message.index ?? undefined, message.payload, message.json));
}

/** Python's answer to set_vars or add_context: an error description as JSON, or nothing. */
function applied(cellId: number, error: unknown): void {
  post({ error: typeof error === "string" ? JSON.parse(error) : null, type: "applied", cell: cellId });
}

/** Snapshots the live interpreter (to hibernate or checkpoint the session); it keeps running. */
function snapshot(): void {
  // Python must hold no JavaScript object while the snapshot is taken.
  beforeSnapshot();
  let taken: Uint8Array<ArrayBuffer>;
  try {
    taken = pyodide.makeMemorySnapshot();
  } catch (error) {
    post({ type: "snapshot_failed", message: String((error as Error)?.message ?? error).slice(0, 1000) });
    return;
  } finally {
    afterRestore(hostSleep, hostLlm, guestConfig, false);
  }
  postToMain({ type: "snapshot", bytes: taken.byteLength, data: taken }, [taken.buffer]);
}

function fatal(error: unknown, booting: boolean): void {
  const text = String((error as Error)?.stack ?? error);
  const cause = booting
    ? "boot_failed"
    : /call stack|stack overflow/i.test(text)
    ? "stack_overflow"
    : /memory/i.test(text)
    ? "memory_limit"
    : "interpreter_fatal";
  post({ type: "fatal", cause, message: text.slice(0, 4000) });
}

self.onmessage = async (event: MessageEvent<WorkerInit | HostMessage>) => {
  const message = event.data;
  try {
    if (message.type === "init") await boot(message);
    else if (message.type === "run") await run(message);
    else if (message.type === "set_vars") assign(message);
    else if (message.type === "add_context") addPayload(message as Parameters<typeof addPayload>[0]);
    else if (message.type === "snapshot") snapshot();
  } catch (error) {
    // Python errors are caught in Python; anything reaching here means the interpreter is broken.
    fatal(error, message.type === "init");
  }
};
