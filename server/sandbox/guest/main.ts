// The sandbox process's main thread: it speaks the framed protocol with the host over stdio and
// hosts interpreters of one identity, each on a worker of its own (one worker is one V8 isolate
// and one WebAssembly memory, and serves one session or one request, never two). What every
// interpreter needs is loaded once per process: the compiled WebAssembly module (V8 shares its
// machine code, tiered-up code included, with every worker it is posted to), the base snapshot
// in shared memory with its data pages listed, the standard library and the lock file (the package
// repository's, when there is one: this thread also serves the repository's files, package-files.ts).
// This thread never runs Python, so it stays responsive while cells run: it relays frames and
// writes interrupts into the shared word each interpreter polls.
import { encodeFrameHead, FrameDecoder, keyFromHex, type GuestMessage, type HostFrame, type InterpreterSettings, type ProcessSettings } from "../ipc.ts";
import { readHelperSources } from "./helpers.ts";
import { CallAnswerer, createCallBuffer } from "./host-calls.ts";
import { isCompiled, type LockFile } from "./lock.ts";
import { PackageFileServer } from "./package-files.ts";
import { dataPageRuns } from "./restore.ts";
import type { SharedRuntime, WorkerInit } from "./worker.ts";

const SIGINT = 2;
// The host is trusted; a session snapshot may be as large as the interpreter's heap cap.
const MAX_HOST_FRAME = 2 ** 32 - 1;

const settings = JSON.parse(Deno.args[0]!) as ProcessSettings;
const workerUrl = new URL("./worker.ts", import.meta.url).href;
// What a worker may read: its own module graph and Pyodide's JavaScript, nothing else. Each
// worker has permissions of its own (--unstable-worker-options): revoking them there, as every
// worker does before it loads a snapshot, leaves this thread able to start the next one.
const workerReads = [settings.indexURL, new URL(".", new URL("..", import.meta.url)).pathname];

interface Interpreter {
  worker: Worker;
  interruptWord: Int32Array;
  answerer: CallAnswerer;
  /** Frames that came before the worker had its init (the shared runtime was still loading). */
  pending: Array<{ message: HostFrame; body: Uint8Array | null }> | null;
}

const interpreters = new Map<number, Interpreter>();
/** Set by the host's hello; no worker, and so no Python, ever sees it. */
let frameKey: Uint8Array | null = null;

/** Writes a frame; a body in parts (a snapshot: heap, files, trailer) goes part by part, never joined into one more copy. */
function send(message: object, body: Uint8Array | Uint8Array[] = []): void {
  // What a worker posts is a structured clone, data only: anything there but bytes is dropped.
  const parts = (Array.isArray(body) ? body : [body]).filter((part) => part instanceof Uint8Array);
  writeAll(encodeFrameHead(message, parts.reduce((sum, part) => sum + part.byteLength, 0), frameKey!));
  for (const part of parts) writeAll(part);
}

function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.byteLength) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/** Serves the repository's files to this process's workers; null without a repository. */
let packageFiles: PackageFileServer | null = null;

/** What the interpreters' package helper (packages.py, configure) knows of the repository. */
function packageConfig(lock: LockFile): string {
  const packages: Record<string, object> = {};
  const imports: Record<string, string> = {};
  for (const [key, entry] of Object.entries(lock.packages)) {
    const { name, version, file_name, sha256, depends, imports: modules } = entry;
    packages[key] = { name, version, file_name, sha256, depends, imports: modules, compiled: isCompiled(entry) };
    for (const name of entry.imports) imports[name] = key;
  }
  return JSON.stringify({ packages, imports, max_wheel_bytes: settings.maxWheelBytes });
}

async function loadSharedRuntime(): Promise<SharedRuntime> {
  const path = (name: string) => `${settings.indexURL}${name}`;
  const [wasm, stdlib, lock, snapshot, helpers] = await Promise.all([
    Deno.readFile(path("pyodide.asm.wasm")),
    Deno.readFile(path("python_stdlib.zip")),
    Deno.readTextFile(settings.packagesDir ? `${settings.packagesDir}pyodide-lock.json` : path("pyodide-lock.json")),
    Deno.readFile(settings.snapshotPath),
    readHelperSources(),
  ]);
  const base = new SharedArrayBuffer(snapshot.byteLength);
  new Uint8Array(base).set(snapshot);
  const lockFile = JSON.parse(lock) as LockFile;
  if (settings.packagesDir) {
    const entries = Object.values(lockFile.packages);
    packageFiles = new PackageFileServer(settings.packagesDir, new Set(entries.map((entry) => entry.file_name)));
  }
  return {
    module: await WebAssembly.compile(wasm),
    base,
    basePages: dataPageRuns(snapshot),
    stdlib,
    lockFile,
    // Without a repository the npm package's lock names wheels that are not there: sessions get none of them.
    packages: packageConfig(settings.packagesDir ? lockFile : { ...lockFile, packages: {} }),
    repository: settings.packagesDir !== null,
    helpers,
  };
}

// Loading starts at once: the host spawns interpreters into a process once it has started.
const shared = settings.mode === "serve" ? loadSharedRuntime() : null;

function spawn(id: number, interpreter: InterpreterSettings, snapshot: Uint8Array<ArrayBuffer> | null): void {
  const worker = new Worker(workerUrl, { type: "module", deno: { permissions: { read: workerReads } } } as WorkerOptions);
  const interrupt = new SharedArrayBuffer(4);
  const calls = createCallBuffer();
  const entry: Interpreter = { worker, interruptWord: new Int32Array(interrupt), answerer: new CallAnswerer(calls), pending: [] };
  interpreters.set(id, entry);
  // Bytes (a snapshot, a file) come beside the message, as `body` (the frame's body), in parts.
  worker.onmessage = (event: MessageEvent<GuestMessage & { body?: Uint8Array[] }>) => {
    if (PackageFileServer.isRequest(event.data)) return void packageFiles?.serve(worker, entry.answerer, event.data);
    const { body, ...message } = event.data;
    // Only this thread says a worker has ended: one whose Python claims it did (Python controls
    // what its worker posts) is ended for real, lest the host forget an interpreter still running.
    if (message?.type === "exited") return end(id);
    send({ ...message, worker: id }, body);
    if (message.type === "fatal") end(id);
    if (message.type === "snapshot" && settings.mode === "build") Deno.exit(0);
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    send({ type: "fatal", worker: id, cause: "interpreter_fatal", message: String(event.message) });
    end(id);
  };
  const common = { type: "init" as const, indexURL: settings.indexURL, interrupt, calls, ...interpreter };
  if (!shared) {
    worker.postMessage({ ...common, build: true } satisfies WorkerInit);
    entry.pending = null;
    return;
  }
  void shared.then(
    (runtime) => {
      if (interpreters.get(id) !== entry) return; // killed while the runtime loaded
      const init: WorkerInit = { ...common, build: false, runtime, ...(snapshot && { snapshot }) };
      worker.postMessage(init, snapshot ? [snapshot.buffer] : []);
      for (const { message, body } of entry.pending!) deliver(entry, message, body);
      entry.pending = null;
    },
    (error: Error) => {
      send({ type: "fatal", worker: id, cause: "boot_failed", message: `the sandbox could not load Pyodide: ${error.message}` });
      end(id);
    },
  );
}

/** Stops an interpreter's worker (a deadline, a kill, its own fatal error) and tells the host. */
function end(id: number): void {
  const entry = interpreters.get(id);
  if (!entry) return;
  interpreters.delete(id);
  entry.worker.terminate();
  send({ type: "exited", worker: id });
}

/** The body in a buffer of its own, to hand to a worker without a copy (large bodies already are: see FrameDecoder). */
function owned(body: Uint8Array): Uint8Array<ArrayBuffer> {
  return (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice()) as Uint8Array<ArrayBuffer>;
}

function deliver(entry: Interpreter, message: HostFrame, body: Uint8Array | null): void {
  if (message.type === "interrupt") {
    Atomics.store(entry.interruptWord, 0, SIGINT);
    Atomics.notify(entry.interruptWord, 0); // wakes a sleeping time.sleep at once
    entry.answerer.wake(); // and a cell blocked on llm_query, input() or a tool
    return;
  }
  if (message.type === "llm_answer" || message.type === "input_answer" || message.type === "tool_answer") {
    // The worker is blocked in the call: it cannot receive a message, only read shared memory.
    entry.answerer.answer(message.call, JSON.stringify(message.type === "llm_answer" ? message.answers : message.answer));
    return;
  }
  if (message.type === "add_context" || message.type === "file" || message.type === "install_wheel") {
    const payload = owned(body ?? new Uint8Array());
    entry.worker.postMessage({ ...message, payload }, [payload.buffer]);
    return;
  }
  entry.worker.postMessage(message);
}

function handle(message: HostFrame, body: Uint8Array | null): void {
  if (message.type === "hello") {
    frameKey ??= keyFromHex(message.key);
    return;
  }
  if (message.type === "spawn") {
    const { type: _type, worker, ...interpreter } = message;
    if (!interpreters.has(worker)) spawn(worker, interpreter, interpreter.restore && body ? owned(body) : null);
    return;
  }
  if (message.type === "kill") return end(message.worker);
  const entry = interpreters.get(message.worker);
  // A frame for an interpreter that has ended: the host learns of that from `exited`.
  if (!entry) return;
  if (entry.pending && message.type !== "interrupt") entry.pending.push({ message, body });
  else deliver(entry, message, body);
}

// The host's end of stdin closing means the host is gone (even if it was SIGKILLed): exit.
const decoder = new FrameDecoder<HostFrame>(MAX_HOST_FRAME);
for await (const chunk of Deno.stdin.readable) {
  for (const frame of decoder.push(chunk)) handle(frame.message, frame.body);
}
Deno.exit(0);
