// Run in the interpreter's worker once Pyodide has loaded: Python can reach JavaScript objects
// (and through tricks like a getter planted on Object.prototype, the worker's global object), so
// what it could reach is made useless. Permissions already deny I/O; this removes what works
// without permissions (spawning workers from data: URLs, the Cache API's disk, timers for
// background work) and freezes the prototypes through which the global object leaks.

const REMOVED_GLOBALS = [
  "Deno",
  "Worker",
  "caches",
  "localStorage",
  "sessionStorage",
  "fetch",
  "WebSocket",
  "WebSocketStream",
  "EventSource",
  "BroadcastChannel",
  "importScripts",
  "gc",
];

export function harden(): void {
  const global = globalThis as Record<string, unknown>;
  for (const name of REMOVED_GLOBALS) {
    try {
      Object.defineProperty(global, name, { value: undefined, writable: false, configurable: false });
    } catch {
      delete global[name];
    }
  }
  for (let prototype: object | null = globalThis; prototype; prototype = Object.getPrototypeOf(prototype)) {
    if (prototype !== globalThis) Object.freeze(prototype);
  }
  for (const intrinsic of [Object, Function, Array, String, Number, Boolean, Symbol, Promise, Error, RegExp, Map, Set]) {
    Object.freeze(intrinsic.prototype);
  }
}
