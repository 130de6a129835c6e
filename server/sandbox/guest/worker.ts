// The Pyodide interpreter, on a worker thread so the sandbox's main thread stays free to relay
// interrupts and output while a cell runs. Everything this thread posts is relayed to the host,
// which validates it: Python can reach this thread's JavaScript, so nothing here is trusted.
/// <reference lib="deno.worker" />
import { INPUT_CAPS, INTROSPECT_CAPS, MAX_PROMPT_CHARS, RESULT_CAPS, TOOL_CAPS, WORKING_DIRECTORY, type DisplayMessage, type GuestMessage, type HostMessage, type InterpreterSettings, type LocalsMode, type StreamName } from "../ipc.ts";
import { confineTimers } from "./background.ts";
import { harden, withdraw } from "./harden.ts";
import { installedHelpers, installHelpers, readHelperSources } from "./helpers.ts";
import { CallWaiter } from "./host-calls.ts";
import { PackageLoader, type LoaderPyodide } from "./package-loader.ts";
import { PACKAGE_BASE_URL, PackageFileClient, type PackageFileAnswer } from "./package-files.ts";
import { sparseRestoreFactory } from "./restore.ts";
import { revokeAllPermissions } from "./permissions.ts";
import { snapshotParts, splitSnapshot } from "./session-snapshot.ts";
import { WorkingDirectory, type FileSystem } from "./workdir.ts";

/** What the sandbox process loads once and hands to every interpreter it starts (see main.ts). */
export interface SharedRuntime {
  /** pyodide.asm.wasm, compiled: instantiating it costs milliseconds, compiling it 100. */
  module: WebAssembly.Module;
  /** The base snapshot, shared by every worker: each copies only its data pages into its heap. */
  base: SharedArrayBuffer;
  basePages: Int32Array;
  stdlib: Uint8Array;
  /** The package repository's lock file when there is one, else the npm package's. */
  lockFile: unknown;
  /** What the package helper knows of the repository (packages.py, configure): no packages without one. */
  packages: string;
  /** Whether there is a repository to load packages from. */
  repository: boolean;
  /** The server's Python helpers (see helpers.ts), installed again after every restore. */
  helpers: string[];
}

export interface WorkerInit extends InterpreterSettings {
  type: "init";
  /** Makes the base snapshot instead (read from Pyodide's files, with the bootstrap run once). */
  build: boolean;
  indexURL: string;
  interrupt: SharedArrayBuffer;
  /** Where the main thread writes answers to llm_query and input() (see host-calls.ts). */
  calls: SharedArrayBuffer;
  /** Absent only when building. */
  runtime?: SharedRuntime;
  /** A session's snapshot to restore (`restore`); otherwise the base snapshot. */
  snapshot?: Uint8Array;
}

/** A message with bytes beside it (see main.ts): a payload or a file the host sent. */
type WithPayload<T> = T & { payload: Uint8Array<ArrayBuffer> };

type PyCallable = (...args: unknown[]) => unknown;

/** The part of Pyodide's API this worker uses. */
interface Pyodide extends LoaderPyodide {
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
  FS: FileSystem & LoaderPyodide["FS"];
  _module: { HEAP8: Int8Array };
  _api: { config: { _loadSnapshot?: unknown } };
}

let pyodide: Pyodide;
/** Fetches the package repository's files from the process's main thread; null without a repository. */
let packageFiles: PackageFileClient | null = null;
let workdir: WorkingDirectory;
let interruptWord: Int32Array;
let callWaiter: CallWaiter;
let maxOutputBytes = 0;

// Output of the cell that is running: counted here so that bytes past the cap never cross.
let cell = 0;
let outputBytes = 0;
let droppedBytes = 0;
/** While introspection runs, what Python writes or shows belongs to no cell: it is dropped. */
let introspecting = false;

// Bound now: after hardening, nothing on the global object is relied upon.
const postToMain = self.postMessage.bind(self);
// Taken before they are withdrawn (see harden.ts).
const collectGarbage = (globalThis as { gc?: () => void }).gc; // --expose-gc
const permissions = Deno.permissions;
const timers = confineTimers();

function post(message: GuestMessage, transfer: Transferable[] = []): void {
  postToMain(message, transfer);
}

/** A message with bytes beside it, in parts the process writes after its header (main.ts). */
function postWithBody(message: GuestMessage, parts: Uint8Array<ArrayBuffer>[]): void {
  // Bytes in a buffer of their own move to the main thread; a view (a cell may have made the
  // file system hand one out) is copied.
  const moved = parts.filter((part) => part.byteOffset === 0 && part.byteLength === part.buffer.byteLength).map((part) => part.buffer);
  postToMain({ ...message, body: parts }, moved);
}

/**
 * Pyodide's main module comes from `precompiled` (the process compiled it once) when given, and
 * its memory growth is refused past the cap, so that an allocation past it fails inside the
 * allocator and Python raises MemoryError instead of the process being killed.
 */
function instantiateWith(precompiled: WebAssembly.Module | null, capBytes: number): void {
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
  // Pyodide's loader streams only its main module (as a fetch response, under Deno).
  // deno-lint-ignore no-explicit-any
  (WebAssembly as any).instantiateStreaming = async (source: any, imports?: WebAssembly.Imports) => {
    if (!precompiled) return instantiateStreaming(source, wrapImports(imports));
    return { instance: await instantiate(precompiled, wrapImports(imports)), module: precompiled };
  };
}

const encoder = new TextEncoder();

/**
 * Output that goes whole or not at all (a display message, a result's bundle): the bytes of its
 * JSON when they fit in `room`; null, and counted as dropped, when they do not.
 */
function fitsWhole(json: string, room: number): number | null {
  const bytes = encoder.encode(json).byteLength;
  if (bytes <= room) return bytes;
  droppedBytes += bytes;
  return null;
}

function outputWriter(name: StreamName) {
  const decoder = new TextDecoder();
  return {
    isatty: true, // line-buffered, so output streams on newline as well as on flush
    write(buffer: Uint8Array): number {
      if (introspecting) return buffer.byteLength;
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
 * input() and getpass(): blocks, as llm_query does, until the host answers with an InputAnswer's
 * JSON. An interrupt (or the cell's deadline) ends the wait with KeyboardInterrupt.
 */
function hostInput(prompt: string, password: boolean): string {
  if (introspecting) return JSON.stringify({ error: "input() is not available outside a cell" });
  return callWaiter.call(
    (call) => post({ type: "input_request", cell, call, prompt, password }),
    () => pyodide.checkInterrupt(),
  );
}

/**
 * A declared tool called from Python (`args`: the JSON of [positional, keyword]): blocks, as
 * llm_query does, until the host answers with a ToolAnswer's JSON. An interrupt (or the cell's
 * deadline) ends the wait with KeyboardInterrupt.
 */
function hostTool(name: string, args: string): string {
  if (introspecting) return JSON.stringify({ error: "tools are not available outside a cell" });
  return callWaiter.call(
    (call) => post({ type: "tool_request", cell, call, name, args }),
    () => pyodide.checkInterrupt(),
  );
}

/** display() and clear_output() from Python (a DisplayMessage's JSON): sent if it fits the cell's output cap. */
function hostDisplay(json: string): boolean {
  if (introspecting) return false;
  const message = JSON.parse(json) as DisplayMessage;
  const bytes = fitsWhole(JSON.stringify(message), maxOutputBytes - outputBytes);
  if (bytes === null) return false;
  outputBytes += bytes;
  post({ type: "display", cell, message });
  return true;
}

type LoadPyodide = (options: object) => Promise<Pyodide>;

/** Pyodide, and the working directory's archive that came with the snapshot it was restored from (none when building). */
async function load(init: WorkerInit): Promise<{ pyodide: Pyodide; archive: Uint8Array | null }> {
  const common = {
    // The `js` module is an empty object: Python gets no handle on this thread's globals.
    jsglobals: Object.freeze(Object.create(null)),
    env: { HOME: WORKING_DIRECTORY },
    stdout: () => {},
    stderr: () => {},
  };
  if (init.build) {
    instantiateWith(null, init.memoryCapBytes);
    const { loadPyodide } = (await import(`${init.indexURL}pyodide.mjs`)) as { loadPyodide: LoadPyodide };
    const built = await loadPyodide({ ...common, indexURL: init.indexURL, _makeSnapshot: true });
    installHelpers(built, await readHelperSources());
    return { pyodide: built, archive: null };
  }
  const runtime = init.runtime!;
  // Restoring a snapshot runs Python from it (Pyodide's bootstrap calls into the restored heap):
  // before that, this worker loses every way out of itself, and gets its files from memory.
  const indexURL = new URL(init.indexURL, location.href).href;
  packageFiles = runtime.repository ? new PackageFileClient((request) => postToMain(request)) : null;
  withdraw(new Map([[`${indexURL}python_stdlib.zip`, runtime.stdlib], [`${indexURL}pyodide.asm.wasm`, new Uint8Array()]]), packageFiles);
  const { loadPyodide } = (await import(`${indexURL}pyodide.mjs`)) as { loadPyodide: LoadPyodide };
  const { default: createPyodideModule } = await import(`${indexURL}pyodide.asm.mjs`);
  revokeAllPermissions(permissions);
  instantiateWith(runtime.module, init.memoryCapBytes);
  const { heap, archive } = splitSnapshot(init.snapshot ?? new Uint8Array(runtime.base));
  const restored = await loadPyodide({
    ...common,
    indexURL,
    lockFileContents: runtime.lockFile,
    ...(packageFiles && { packageBaseUrl: PACKAGE_BASE_URL }),
    // Every sandbox can be snapshotted again: that is how a session hibernates.
    _makeSnapshot: true,
    _loadSnapshot: heap,
    createPyodideModule: sparseRestoreFactory(createPyodideModule, heap.byteLength, init.snapshot ? null : runtime.basePages),
  });
  return { pyodide: restored, archive };
}

let guestConfig = "";
let runCell: PyCallable;
let finishCell: PyCallable;
let setVars: PyCallable;
let setEnvironment: PyCallable;
let setTools: PyCallable;
let addContext: PyCallable;
let introspectHelper: PyCallable;
let beforeSnapshot: PyCallable;
let afterRestore: PyCallable;
/** Pyodide's switch for interrupts (kept before Python can reach pyodide_js: see boot). */
let interruptsReachPython: (on: boolean) => void;
/** The repository's packages in this interpreter (package-loader.ts). */
let packages: PackageLoader;

async function boot(init: WorkerInit): Promise<void> {
  const started = performance.now();
  interruptWord = new Int32Array(init.interrupt);
  callWaiter = new CallWaiter(init.calls, interruptWord);
  maxOutputBytes = init.maxOutputBytes;
  const loaded = await load(init);
  pyodide = loaded.pyodide;
  workdir = new WorkingDirectory(pyodide.FS, init.memoryCapBytes, () => pyodide._module.HEAP8.byteLength);
  // Before any Python of the session's runs: its files are there when its code is.
  if (loaded.archive) workdir.unpack(loaded.archive);
  if (init.build) {
    postSnapshot(snapshotParts(pyodide.makeMemorySnapshot(), workdir.pack()));
    return;
  }
  pyodide.setStdout(outputWriter("stdout"));
  pyodide.setStderr(outputWriter("stderr"));
  // Standard input is the host protocol's pipe; Python must never read it.
  pyodide.setStdin({ error: true });
  // Interrupts reach Python only while a cell's own code runs (see run): the server's Python
  // around it (its result, a snapshot's helpers, set_vars, add_context) never stops halfway.
  const setInterruptBuffer = pyodide.setInterruptBuffer.bind(pyodide);
  interruptsReachPython = (on) => setInterruptBuffer(on ? interruptWord : (undefined as unknown as Int32Array));
  // Python reaches this object (pyodide_js): it must not swap the streams for Pyodide's defaults,
  // which buffer without bound in this worker's JavaScript heap (its exhaustion aborts the whole
  // process) or, under Node, write to the host protocol's pipe.
  for (const name of ["setStdout", "setStderr", "setStdin", "setInterruptBuffer"] as const) {
    Object.defineProperty(pyodide, name, { value: () => {}, writable: false, configurable: false });
  }
  // Pyodide keeps its config, and with it the snapshot's bytes: 30 MiB resident for nothing.
  pyodide._api.config._loadSnapshot = undefined;
  harden(packageFiles);
  // The server's helpers, installed again over whatever a restored session made of them, and
  // held from here on: what the worker calls is the server's code, not attributes a cell rebinds.
  // The base snapshot's are the server's own, untouched by any session: installing them again
  // would only cost time and dirty pages that every session's stored snapshot then carries.
  const helpers = init.restore ? installHelpers(pyodide, init.runtime!.helpers) : installedHelpers(pyodide);
  ({
    run_cell: runCell,
    finish_cell: finishCell,
    set_vars: setVars,
    set_environment: setEnvironment,
    set_tools: setTools,
    add_context: addContext,
    introspect: introspectHelper,
    before_snapshot: beforeSnapshot,
    after_restore: afterRestore,
  } = helpers);
  packages = new PackageLoader(pyodide, init.runtime!.packages, packageFiles, callWaiter);
  await packages.reinstall();
  collectGarbage?.(); // return the boot's garbage before the sandbox idles in the pool
  guestConfig = JSON.stringify({ memory_cap_mb: Math.round(init.memoryCapBytes / 1024 / 1024), caps: RESULT_CAPS, input_caps: INPUT_CAPS, tool_caps: TOOL_CAPS, introspect_caps: INTROSPECT_CAPS, max_prompt_chars: MAX_PROMPT_CHARS });
  // A session's own snapshot keeps its random state; only the shared base snapshot needs reseeding.
  attachHost(!init.restore);
  timers.closeBoot();
  post({ type: "ready", boot_ms: performance.now() - started, pyodide: pyodide.version });
}

/** Runs a cell, then what it scheduled (background.ts), then sends its result. */
async function run(message: Extract<HostMessage, { type: "run" }>): Promise<void> {
  cell = message.cell;
  outputBytes = 0;
  droppedBytes = 0;
  let cut: boolean;
  interruptsReachPython(true);
  try {
    // What the cell imports (or names to micropip.install) loads first: nothing can be awaited inside it.
    const wanted = packages.requirements(message.code);
    const unloaded = wanted.length > 0 ? await packages.load(wanted) : null;
    timers.beginCell();
    runCell(message.code, unloaded ?? undefined); // undefined: Python's None (null would be jsnull)
    cut = await timers.settle(() => Atomics.load(interruptWord, 0) !== 0);
  } finally {
    // An interrupt from here on (the host repeats one until it hears the result) is for a cell
    // that is over: building its result must not die of it.
    interruptsReachPython(false);
  }
  const { data, ...result } = JSON.parse(finishCell(message.locals satisfies LocalsMode, cut) as string);
  // The trailing value's bundle has the output cap to itself: a cell that filled it with streams
  // and displays still shows its value (the result's own caps leave the bundle out).
  const kept = data !== null && data !== undefined && fitsWhole(JSON.stringify(data), maxOutputBytes) !== null ? data : null;
  // Fields of ours come last: what Python returned cannot set them.
  post({ ...result, data: kept, type: "result", cell, output_dropped_bytes: droppedBytes });
}

/** Hands Python its ways to the host again (after a boot or a snapshot: see before_snapshot). */
function attachHost(reseed: boolean): void {
  afterRestore(hostSleep, hostLlm, hostDisplay, hostInput, hostTool, guestConfig, reseed);
}

function assign(message: Extract<HostMessage, { type: "set_vars" }>): void {
  applied(message.cell, setVars(JSON.stringify(message.vars)));
}

/** Makes the declared tools Python functions (bootstrap.py, set_tools). */
function declareTools(message: Extract<HostMessage, { type: "set_tools" }>): void {
  applied(message.cell, setTools(JSON.stringify(message.tools)));
}

/** Adds the host's variables to os.environ (bootstrap.py, set_environment). */
function setEnv(message: Extract<HostMessage, { type: "set_env" }>): void {
  applied(message.cell, setEnvironment(JSON.stringify(message.env)));
}

function addPayload(message: WithPayload<Extract<HostMessage, { type: "add_context" }>>): void {
  // The bytes go to Python as they are: one copy into its heap and a C decode, far cheaper than
  // making a JavaScript string of them and converting that.
  applied(message.cell, addContext(message.kind, message.index ?? undefined, message.payload, message.json));
}

/** Completion, inspection or is-complete between cells (bootstrap.py, introspect). */
function introspect(message: Extract<HostMessage, { type: "introspect" }>): void {
  introspecting = true;
  let reply: string;
  try {
    reply = introspectHelper(JSON.stringify(message.request)) as string;
  } finally {
    introspecting = false;
  }
  post({ reply: JSON.parse(reply), type: "introspected", cell: message.cell });
}

/** PRELOAD_PACKAGES, loaded and imported outside any cell (the base snapshot's build). */
async function preload(message: Extract<HostMessage, { type: "load_packages" }>): Promise<void> {
  applied(message.cell, await packages.preload(message.names));
}

/** A user's pure-Python wheel, installed between cells. */
function installWheel(message: Extract<HostMessage, { type: "install_wheel" }> & { payload: Uint8Array }): void {
  applied(message.cell, packages.installUploaded(message.filename, message.payload));
}

/** A file request of the host's, on the working directory (workdir.ts); no Python runs. */
function fileRequest(message: WithPayload<Extract<HostMessage, { type: "file" }>>): void {
  const { reply, body } = workdir.handle(message.request, message.payload);
  const answer: GuestMessage = { type: "file_reply", cell: message.cell, reply };
  if (body) postWithBody(answer, [body]);
  else post(answer);
}

/** Python's answer to set_vars, set_env, add_context or a package call: an error description as JSON, or nothing. */
function applied(cellId: number, error: unknown): void {
  post({ error: typeof error === "string" ? JSON.parse(error) : null, type: "applied", cell: cellId });
}

/** Snapshots the live interpreter with its working directory (to hibernate or checkpoint the session); it keeps running. */
function snapshot(): void {
  // A compiled package's WebAssembly module and function table live outside the heap: restored
  // from a snapshot, its code would be gone.
  const blocker = packages.snapshotBlocker();
  if (blocker) return post({ type: "snapshot_failed", message: blocker });
  let parts: Uint8Array<ArrayBuffer>[];
  try {
    // The files first: when they and the heap outgrow the cap, no copy of the heap is made.
    const archive = workdir.pack();
    parts = snapshotParts(heapSnapshot(), archive);
  } catch (error) {
    post({ type: "snapshot_failed", message: String((error as Error)?.message ?? error).slice(0, 1000) });
    return;
  }
  postSnapshot(parts);
}

function heapSnapshot(): Uint8Array<ArrayBuffer> {
  // Python must hold no JavaScript object while the snapshot is taken.
  beforeSnapshot();
  packages.detach();
  try {
    return pyodide.makeMemorySnapshot();
  } finally {
    attachHost(false);
    packages.attach();
  }
}

function postSnapshot(parts: Uint8Array<ArrayBuffer>[]): void {
  postWithBody({ type: "snapshot", bytes: parts.reduce((sum, part) => sum + part.byteLength, 0) }, parts);
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

self.onmessage = async (event: MessageEvent<WorkerInit | HostMessage | PackageFileAnswer>) => {
  const message = event.data;
  // Each piece of work starts with no interrupt: the host repeats one until it hears its cell's
  // result, so a repeat may land after that cell ended, and it is for no later work (the next cell
  // would stop at once; a snapshot's helpers, before interrupts were kept to cells, halfway,
  // leaving the interpreter unable to be snapshotted again). A package file's answer comes during
  // a cell: its interrupt stands.
  if (message.type !== "init" && message.type !== "package_file") Atomics.store(interruptWord, 0, 0);
  try {
    if (message.type === "init") await boot(message);
    else if (message.type === "run") await run(message);
    else if (message.type === "set_vars") assign(message);
    else if (message.type === "set_env") setEnv(message);
    else if (message.type === "set_tools") declareTools(message);
    else if (message.type === "add_context") addPayload(message as Parameters<typeof addPayload>[0]);
    else if (message.type === "file") fileRequest(message as Parameters<typeof fileRequest>[0]);
    else if (message.type === "introspect") introspect(message);
    else if (message.type === "load_packages") await preload(message);
    else if (message.type === "install_wheel") installWheel(message as Parameters<typeof installWheel>[0]);
    else if (message.type === "package_file") packageFiles?.settle(message);
    else if (message.type === "snapshot") snapshot();
  } catch (error) {
    // Python errors are caught in Python; anything reaching here means the interpreter is broken.
    fatal(error, message.type === "init");
  }
};
