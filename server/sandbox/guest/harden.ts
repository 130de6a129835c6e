// The interpreter's worker is locked down in two steps, both before Python can do anything a
// cell could not: Python can reach JavaScript objects (and, through tricks like a getter planted
// on Object.prototype, the worker's global object), and restoring a snapshot runs Python of the
// session's own making (Pyodide's bootstrap calls into the restored heap). So:
//  1. withdraw(), before Pyodide is even imported: every global that reaches outside this thread
//     goes (the Deno namespace, Node's `process` and the console, with the process's stdin and stdout; spawning
//     workers from data: URLs; the Cache API's and web storage's disk; sockets; navigator's
//     locks and GPU; timers are confined to cells by background.ts). Pyodide then
//     takes this worker for a browser's, and its loader gets a fetch that serves only the files
//     handed to it from memory, and the package repository's files, which the process's main
//     thread hands over (package-files.ts). Permissions are revoked before the snapshot is loaded.
//  2. harden(), once Pyodide has loaded: the loader's fetch serves only the repository's files
//     from then on (it loads packages as cells need them), and the prototypes through which the
//     global object leaks are frozen.
import { PACKAGE_BASE_URL, type PackageFileClient } from "./package-files.ts";

/** Reach beyond this thread that needs no Deno permission, or that a permission alone would not stop. */
const WITHDRAWN_GLOBALS = [
  "Deno",
  "process",
  "Worker",
  "SharedWorker",
  "caches",
  "CacheStorage",
  "Cache",
  "localStorage",
  "sessionStorage",
  "indexedDB",
  "IDBFactory",
  "Storage",
  // locks and the GPU, besides what a browser reports of itself
  "navigator",
  "LockManager",
  "GPU",
  "WebSocket",
  "WebSocketStream",
  "EventSource",
  "BroadcastChannel",
  "importScripts",
  "gc",
  // Pyodide schedules asyncio's callbacks through a MessageChannel when there is one, beyond the
  // timers background.ts confines to their cell.
  "MessageChannel",
  "MessagePort",
];


function define(name: string, value: unknown, final: boolean): void {
  const global = globalThis as Record<string, unknown>;
  try {
    Object.defineProperty(global, name, { value, writable: false, configurable: !final });
  } catch {
    delete global[name];
  }
}

/** A fetch of `files` (URLs to their bytes) and of the repository's files; anything else is refused. */
function loaderFetch(files: ReadonlyMap<string, Uint8Array>, packages: PackageFileClient | null) {
  return (input: unknown, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    const bytes = files.get(url);
    if (bytes) return Promise.resolve(new Response(bytes as Uint8Array<ArrayBuffer>));
    if (packages && url.startsWith(PACKAGE_BASE_URL)) return packages.response(url, init);
    return Promise.reject(new TypeError("fetch is not available in the sandbox"));
  };
}

/**
 * Step 1. `files` maps URLs Pyodide's loader fetches to their bytes, `packages` serves the
 * repository's; anything else it (or Python) asks for is refused.
 */
export function withdraw(files: ReadonlyMap<string, Uint8Array>, packages: PackageFileClient | null): void {
  for (const name of WITHDRAWN_GLOBALS) define(name, undefined, true);
  // A worker's console writes to the process's stdout, the host protocol's pipe, and stderr.
  const silent = () => {};
  define("console", Object.freeze(Object.fromEntries(Object.keys(console).map((method) => [method, silent]))), true);
  define("fetch", loaderFetch(files, packages), false);
}

/** Step 2. Pyodide's loader looks `fetch` up when it loads a package: it stays, for the repository alone. */
export function harden(packages: PackageFileClient | null): void {
  define("fetch", packages ? loaderFetch(new Map(), packages) : undefined, true);
  for (let prototype: object | null = globalThis; prototype; prototype = Object.getPrototypeOf(prototype)) {
    if (prototype !== globalThis) Object.freeze(prototype);
  }
  for (const intrinsic of [Object, Function, Array, String, Number, Boolean, Symbol, Promise, Error, RegExp, Map, Set]) {
    Object.freeze(intrinsic.prototype);
  }
}
