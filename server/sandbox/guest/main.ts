// The sandbox process's main thread: it speaks the framed protocol with the host over stdio,
// relays cells to the interpreter worker, and writes interrupts into the shared word the
// interpreter polls. It never runs Python, so it stays responsive while a cell runs.
import { encodeFrame, FrameDecoder, keyFromHex, type GuestMessage, type GuestSettings, type HostMessage } from "../ipc.ts";
import { CallAnswerer, createCallBuffer } from "./host-calls.ts";
import { revokeAllPermissions } from "./permissions.ts";
import type { WorkerInit } from "./worker.ts";

const SIGINT = 2;
// The host is trusted; a session snapshot may be as large as the interpreter's heap cap.
const MAX_HOST_FRAME = 2 ** 32 - 1;

const settings = JSON.parse(Deno.args[0]!) as GuestSettings;
const interrupt = new SharedArrayBuffer(4);
const interruptWord = new Int32Array(interrupt);
const calls = createCallBuffer();
const answerer = new CallAnswerer(calls);
/** Set by the host's hello; the worker, and so Python, never sees it. */
let frameKey: Uint8Array | null = null;
let worker: Worker | null = null;

function send(message: object, body?: Uint8Array): void {
  const frame = encodeFrame(message, body, frameKey!);
  let written = 0;
  while (written < frame.byteLength) written += Deno.stdout.writeSync(frame.subarray(written));
}

function die(message: GuestMessage, code: number): never {
  send(message);
  Deno.exit(code);
}

function startWorker(snapshot?: Uint8Array<ArrayBuffer>): Worker {
  const started = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
  started.onmessage = (event: MessageEvent<GuestMessage & { data?: Uint8Array }>) => {
    const { data, ...message } = event.data;
    if (message.type === "ready") revokeAllPermissions();
    if (message.type === "fatal") die(message, 70);
    send(message, data);
    if (message.type === "snapshot" && settings.mode === "build") Deno.exit(0);
  };
  started.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    die({ type: "fatal", cause: "interpreter_fatal", message: String(event.message) }, 70);
  };
  const init: WorkerInit = { type: "init", ...settings, interrupt, calls, ...(snapshot && { snapshot }) };
  started.postMessage(init, snapshot ? [snapshot.buffer] : []);
  return started;
}

/** The body in a buffer of its own, to hand to the worker without a copy (large bodies already are: see FrameDecoder). */
function owned(body: Uint8Array): Uint8Array<ArrayBuffer> {
  return (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice()) as Uint8Array<ArrayBuffer>;
}

function handle(message: HostMessage, body: Uint8Array | null): void {
  if (message.type === "hello") {
    frameKey ??= keyFromHex(message.key);
    if (settings.mode !== "restore") worker ??= startWorker();
    return;
  }
  if (message.type === "restore") {
    if (body) worker ??= startWorker(owned(body));
    return;
  }
  if (message.type === "interrupt") {
    Atomics.store(interruptWord, 0, SIGINT);
    Atomics.notify(interruptWord, 0); // wakes a sleeping time.sleep at once
    answerer.wake(); // and a cell blocked on llm_query
    return;
  }
  if (message.type === "llm_answer") {
    // The worker is blocked in the call: it cannot receive a message, only read shared memory.
    answerer.answer(message.call, JSON.stringify(message.answers));
    return;
  }
  if (message.type === "add_context") {
    const payload = owned(body ?? new Uint8Array());
    worker?.postMessage({ ...message, payload }, [payload.buffer]);
    return;
  }
  worker?.postMessage(message);
}

// The host's end of stdin closing means the host is gone (even if it was SIGKILLed): exit.
const decoder = new FrameDecoder<HostMessage>(MAX_HOST_FRAME);
for await (const chunk of Deno.stdin.readable) {
  for (const frame of decoder.push(chunk)) handle(frame.message, frame.body);
}
Deno.exit(0);
