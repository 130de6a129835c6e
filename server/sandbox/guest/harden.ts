// The interpreter's worker locked down before any byte of session state is loaded: the restored
// heap is the session's, and Pyodide runs Python from it while it loads (the finalize bootstrap,
// import hooks), so whatever that Python could reach must already be gone. Python can reach
// JavaScript objects (and through tricks like a getter planted on Object.prototype, the worker's
// global object). Permissions are revoked first (permissions.ts); this removes what works without
// any permission, and freezes the prototypes through which the global object leaks:
// - code loading: `Worker` (arbitrary JavaScript from a data: URL), `importScripts`;
// - network: `fetch` and friends (denied by permissions already; removed so nothing depends on it);
// - storage that needs no permission: the Cache API writes files under DENO_DIR, `localStorage`
//   and `sessionStorage` (the main thread's, not a worker's, but removed wherever they appear),
//   `indexedDB`, `BroadcastChannel` (other workers of the process), `navigator` (locks, gpu);
// - `Deno` itself (`Deno.openKv`, `Deno.stdout` and every file, net and process API), replaced by
//   the one part Pyodide still reads while it loads (`Deno.build`, through Node's `process`);
// - timers: nothing may run between cells (see background.ts, which replaces them).
// Permissions and globals go before the snapshot's bytes reach the heap; prototypes are frozen
// after Pyodide has loaded (see freezePrototypes).

const REMOVED_GLOBALS = [
  "Worker",
  "importScripts",
  "caches",
  "CacheStorage",
  "Cache",
  "localStorage",
  "sessionStorage",
  "indexedDB",
  "IDBFactory",
  "BroadcastChannel",
  "LockManager",
  "GPU",
  "fetch",
  "WebSocket",
  "WebSocketStream",
  "EventSource",
  "gc",
];

/** Runs before the snapshot is copied into the heap: no restored Python finds any of these. */
export function removeDangerousGlobals(): void {
  const global = globalThis as Record<string, unknown>;
  const build = Object.freeze({ ...Deno.build });
  Object.defineProperty(global, "Deno", { value: Object.freeze({ build }), writable: false, configurable: false });
  for (const name of REMOVED_GLOBALS) {
    try {
      Object.defineProperty(global, name, { value: undefined, writable: false, configurable: false });
    } catch {
      delete global[name];
    }
  }
}

/**
 * Runs once Pyodide has loaded, before the first cell: restoring a snapshot into frozen
 * prototypes fails inside Pyodide ("hiwire_get is falsy"), so this one step must wait. Python that
 * runs during the load finds no permission and none of the globals above, only prototypes it could
 * poison; they are frozen before the session's code is given any JavaScript object.
 */
export function freezePrototypes(): void {
  for (let prototype: object | null = globalThis; prototype; prototype = Object.getPrototypeOf(prototype)) {
    if (prototype !== globalThis) Object.freeze(prototype);
  }
  for (const intrinsic of [Object, Function, Array, String, Number, Boolean, Symbol, Promise, Error, RegExp, Map, Set]) {
    Object.freeze(intrinsic.prototype);
  }
}
