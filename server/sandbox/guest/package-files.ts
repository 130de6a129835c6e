// The package repository's files, handed from the process's main thread to its interpreters as
// the standard library is: the main thread reads them under its read permission; a worker has no
// permission at all, and asks by message. Python can reach the worker's JavaScript, so it can
// send such requests too: the main thread serves only the files the lock file names (the same
// files every session may load anyway), a bounded number at a time.

import { MAX_ANSWER_BYTES, type CallAnswerer, type CallWaiter } from "./host-calls.ts";

/** Where Pyodide's loader fetches repository files (its packageBaseUrl): a name no disk or network has. */
export const PACKAGE_BASE_URL = "https://packages.wasm-repl.invalid/";

/** Requests one worker may have in flight: Pyodide fetches a package's dependencies at once. */
const MAX_IN_FLIGHT = 16;

/**
 * A worker's request for a repository file, and the main thread's answer: by message (`request`),
 * or, for a worker blocked in a cell, which cannot receive one, in its shared call buffer (`call`:
 * see host-calls.ts), as one status byte (OK or FAILED, then the reason) and the file's bytes.
 */
export type PackageFileRequest = { type: "package_file"; name: string } & ({ request: number } | { call: number });
export type PackageFileAnswer = { type: "package_file"; request: number } & ({ bytes: Uint8Array } | { error: string });

export const OK = 0;
export const FAILED = 1;

/** The main thread's half: serves the files the lock names, from the repository directory. */
export class PackageFileServer {
  private readonly inFlight = new WeakMap<Worker, number>();

  constructor(
    private readonly dir: string,
    private readonly names: ReadonlySet<string>,
  ) {}

  /** Whether `message` is a package-file request (answered here, never relayed to the host). */
  static isRequest(message: unknown): boolean {
    return (message as { type?: unknown } | null)?.type === "package_file";
  }

  async serve(worker: Worker, calls: CallAnswerer, message: unknown): Promise<void> {
    const { request, call, name } = (message ?? {}) as { request?: unknown; call?: unknown; name?: unknown };
    const answer = (reply: { bytes: Uint8Array } | { error: string }) => {
      if (Number.isSafeInteger(request)) {
        const transfer = "bytes" in reply ? [reply.bytes.buffer as ArrayBuffer] : [];
        worker.postMessage({ type: "package_file", request, ...reply }, transfer);
      } else {
        // A worker that gave up on the call (an interrupt) finds no answer: answerBytes drops it.
        const fits = "bytes" in reply && reply.bytes.byteLength < MAX_ANSWER_BYTES;
        const body = fits ? reply.bytes : new TextEncoder().encode("error" in reply ? reply.error : `${name} is over ${MAX_ANSWER_BYTES} bytes: import it instead, so that it loads before the cell`);
        const framed = new Uint8Array(1 + body.byteLength);
        framed[0] = fits ? OK : FAILED;
        framed.set(body, 1);
        calls.answerBytes(call as number, framed);
      }
    };
    if (!Number.isSafeInteger(request) && !Number.isSafeInteger(call)) return;
    if (typeof name !== "string" || !this.names.has(name)) return answer({ error: `the package repository has no file ${JSON.stringify(String(name).slice(0, 200))}` });
    const count = this.inFlight.get(worker) ?? 0;
    if (count >= MAX_IN_FLIGHT) return answer({ error: `more than ${MAX_IN_FLIGHT} package files asked for at once` });
    this.inFlight.set(worker, count + 1);
    try {
      answer({ bytes: await Deno.readFile(`${this.dir}${name}`) });
    } catch (error) {
      answer({ error: `reading ${name} from the package repository failed: ${(error as Error).message}` });
    } finally {
      this.inFlight.set(worker, (this.inFlight.get(worker) ?? 1) - 1);
    }
  }
}

/** The worker's half: asks the main thread for a file and waits for its bytes. */
export class PackageFileClient {
  private nextRequest = 0;
  private readonly pending = new Map<number, { resolve(bytes: Uint8Array): void; reject(error: Error): void }>();

  constructor(private readonly post: (message: PackageFileRequest) => void) {}

  fetch(name: string): Promise<Uint8Array> {
    const request = ++this.nextRequest;
    return new Promise((resolve, reject) => {
      this.pending.set(request, { resolve, reject });
      this.post({ type: "package_file", request, name });
    });
  }

  /** The same while a cell runs (the worker's event loop is blocked): waits on the call buffer. */
  fetchNow(name: string, calls: CallWaiter, onInterrupt: () => void): Uint8Array {
    const answer = calls.callBytes((call) => this.post({ type: "package_file", call, name }), onInterrupt);
    if (answer[0] !== OK) throw new Error(new TextDecoder().decode(answer.subarray(1)));
    return answer.subarray(1);
  }

  /** The main thread's answer (the worker's onmessage hands it over). */
  settle(answer: PackageFileAnswer): void {
    const waiting = this.pending.get(answer.request);
    if (!waiting) return;
    this.pending.delete(answer.request);
    if ("bytes" in answer) waiting.resolve(answer.bytes);
    else waiting.reject(new TypeError(answer.error));
  }

  /**
   * A fetch for Pyodide's loader: repository files by URL under PACKAGE_BASE_URL, checked against
   * the `integrity` the loader gives (the lock file's sha256), as a browser's fetch would.
   */
  async response(url: string, init?: RequestInit): Promise<Response> {
    const name = decodeURIComponent(url.slice(PACKAGE_BASE_URL.length));
    const bytes = await this.fetch(name);
    const integrity = init?.integrity;
    if (integrity) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
      const expected = `sha256-${btoa(String.fromCharCode(...digest))}`;
      if (expected !== integrity) throw new TypeError(`${name} does not match the sha256 of the lock file: the file is damaged or was replaced`);
    }
    return new Response(bytes as Uint8Array<ArrayBuffer>);
  }
}
