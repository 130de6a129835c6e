// Background work runs only inside the time of the cell that scheduled it. A cell runs
// synchronously, so the worker's event loop turns only after the cell's code returns: whatever
// Python scheduled on it (asyncio tasks and call_soon/call_later, which Pyodide's event loop puts
// on setImmediate and setTimeout, or a JavaScript timer reached directly) would otherwise run
// after the result was sent, with no deadline, uncounted. Instead the cell's result waits until
// its scheduled work is done; the cell's deadline interrupts that work with the cell, and what is
// still scheduled then is dropped. Between cells nothing is scheduled: a timer set outside a cell
// is dropped at once (PROTOCOL.md, "Background work").
//
// Not confined: work chained on promises (a microtask needs no timer). Python reaches promises
// only through Pyodide's loaders and the FFI; such work still runs, at the latest, with the next
// cell's turn of the event loop.

const SCHEDULERS = { setTimeout: "clearTimeout", setInterval: "clearInterval", setImmediate: "clearImmediate" } as const;
type Scheduler = keyof typeof SCHEDULERS;
type Callback = (...args: unknown[]) => unknown;

export interface CellTimers {
  /** Until the first cell: Pyodide's own loading may schedule as usual. */
  closeBoot(): void;
  beginCell(): void;
  /**
   * Lets the cell's scheduled work run until none is left, or until `interrupted()` is true or a
   * callback raised (an interrupt, as Pyodide's event loop lets KeyboardInterrupt through). Then
   * drops what is left. Resolves true when the work was cut short.
   */
  settle(interrupted: () => boolean): Promise<boolean>;
}

export function confineTimers(): CellTimers {
  const global = globalThis as unknown as Record<string, Callback>;
  const originals = new Map<Scheduler, { schedule: Callback; clear: Callback }>();
  const pending = new Map<unknown, Scheduler>();
  // Callbacks that suspended (Pyodide may run a callback on a stack it can switch out while Python
  // awaits a promise): the cell's work goes on until they settle.
  const suspended = new Set<Promise<unknown>>();
  let open = true;
  let raised = false;
  for (const name of Object.keys(SCHEDULERS) as Scheduler[]) {
    const schedule = global[name];
    const clear = global[SCHEDULERS[name]];
    if (typeof schedule !== "function" || typeof clear !== "function") continue;
    originals.set(name, { schedule, clear });
    const confined = (callback: unknown, ...rest: unknown[]) => {
      if (!open || typeof callback !== "function") return 0;
      const id: unknown = schedule.call(globalThis, (...args: unknown[]) => {
        if (name !== "setInterval") pending.delete(id);
        try {
          const outcome = callback(...args);
          if (outcome instanceof Promise) {
            const settled: Promise<unknown> = outcome.then(undefined, () => void (raised = true)).finally(() => suspended.delete(settled));
            suspended.add(settled);
          }
        } catch {
          raised = true;
        }
      }, ...rest);
      pending.set(id, name);
      return id;
    };
    const cleared = (id: unknown) => {
      pending.delete(id);
      clear.call(globalThis, id);
    };
    Object.defineProperty(globalThis, name, { value: confined, writable: false, configurable: false });
    Object.defineProperty(globalThis, SCHEDULERS[name], { value: cleared, writable: false, configurable: false });
  }
  const tick = originals.get("setTimeout")!.schedule;
  // Taken before harden.ts withdraws MessageChannel from Python's reach.
  const turn = new MessageChannel();
  // A suspended callback cannot be cancelled: it is only forgotten (its Python waits on a promise
  // that the dropped timers would have resolved; see "Not confined" above).
  const dropAll = () => {
    for (const [id, name] of pending) originals.get(name)!.clear.call(globalThis, id);
    pending.clear();
    suspended.clear();
  };
  return {
    closeBoot() {
      open = false;
      dropAll();
    },
    beginCell() {
      open = true;
      raised = false;
    },
    async settle(interrupted) {
      // At least one turn of the event loop, so that work the cell chained on promises gets it
      // too: through a channel of its own, since a timer's turn costs a cell a millisecond or more.
      await new Promise((resolve) => {
        turn.port1.onmessage = resolve;
        turn.port2.postMessage(null);
      });
      while ((pending.size > 0 || suspended.size > 0) && !raised && !interrupted()) await new Promise((resolve) => tick.call(globalThis, resolve, 0));
      const cut = pending.size > 0 || suspended.size > 0 || raised;
      open = false;
      dropAll();
      return cut;
    },
  };
}
