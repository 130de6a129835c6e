// Booted interpreters waiting to be taken, so that taking one costs a hand-over instead of a boot.
// Interpreters belong to an identity (a key) once booted for it, since each runs in a process
// that hosts only that identity's interpreters. Ready ones are kept:
//  - for no identity yet (`size` of them, each in a process of its own): any key may claim one;
//  - for each identity that took one lately, as many as its demand showed it needs (one more each
//    time a take had to wait, up to `maxPerKey`), dropped once it has gone quiet (`idleKeyMs`).
// A take that finds none waits for the next boot, at most `waitTimeoutMs`, then fails with
// PoolTimeout. Boots are CPU-bound, so at most `maxConcurrentBoots` run at once, waiting takers
// first, served in turn across keys so that one key's burst cannot starve the others. Boot
// failures back off and are logged; they never wedge the pool.
import type { Logger } from "../log.ts";

/** What the pool needs of an interpreter: generic so tests can drive it with any process-like thing. */
export interface Poolable {
  readonly alive: boolean;
  readonly exited: Promise<unknown>;
  close(): Promise<unknown>;
}

export interface PoolOptions<S> {
  /** Ready interpreters kept for identities not seen yet (POOL_SIZE). */
  size: number;
  /** Ready interpreters kept for one identity at most (POOL_MAX_PER_IDENTITY). */
  maxPerKey: number;
  /** Ready interpreters kept in all at most, besides those `size` keeps (POOL_MAX). */
  max: number;
  /** Boots running at once: each is CPU-bound, so more than the cores only slows all of them. */
  maxConcurrentBoots: number;
  /** Boots an interpreter for `key`; for null, one that any key may claim. */
  start: (key: string | null) => Promise<S>;
  /** Hands an interpreter booted for no key to `key`: from now on it, and its process, are the key's. */
  claim: (sandbox: S, key: string) => void;
  /**
   * Whether `key` may claim one booted for no key rather than wait for a boot of its own. Claiming
   * is a hand-over, but its replacement costs a whole process; a key that has a process with room
   * boots in it for a fraction of that.
   */
  mayClaim?: (key: string) => boolean;
  waitTimeoutMs: number;
  /** A key that took nothing for this long has its ready interpreters closed. */
  idleKeyMs: number;
  log: Logger;
  /** Told of every take that had to wait, and how long it waited (seconds). */
  onWait?: (seconds: number, outcome: "served" | "timeout") => void;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class PoolClosed extends Error {}
/** No interpreter could be had within waitTimeoutMs: the server is saturated; retry later. */
export class PoolTimeout extends Error {}

interface Waiter<S> {
  since: number;
  resolve(sandbox: S): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** What the pool keeps for one key (null: no key yet). */
interface Shelf<S> {
  ready: S[];
  booting: number;
  /** How many ready ones this key should have (its demand); always `size` for null. */
  target: number;
  lastTake: number;
}

export class SandboxPool<S extends Poolable> {
  private readonly shelves = new Map<string | null, Shelf<S>>();
  /** Takers waiting for a boot, per key, in turn order across keys (Map order). */
  private readonly waiters = new Map<string, Waiter<S>[]>();
  /** Boots under way; close() waits for them so no interpreter outlives the pool. */
  private readonly boots = new Set<Promise<unknown>>();
  private failures = 0;
  private failingSinceMs: number | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly decayTimer: NodeJS.Timeout;
  private closed = false;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: PoolOptions<S>) {
    this.retryInitialMs = options.retryInitialMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.shelves.set(null, { ready: [], booting: 0, target: options.size, lastTake: 0 });
    this.decayTimer = setInterval(() => this.decay(), Math.max(50, options.idleKeyMs / 2));
    this.decayTimer.unref();
    this.fill();
  }

  /** Ready interpreters waiting to be taken, for any key. */
  get available(): number {
    let count = 0;
    for (const shelf of this.shelves.values()) count += shelf.ready.length;
    return count;
  }

  /** Consecutive failed boots; zero once one succeeds. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Since when (performance.now()) every boot has failed; null while boots succeed. */
  get failingSince(): number | null {
    return this.failingSinceMs;
  }

  /**
   * A ready interpreter for `key`: at once when one is kept for it or for no key yet, otherwise
   * the next to finish booting, within waitTimeoutMs.
   */
  take(key = ""): Promise<S> {
    if (this.closed) return Promise.reject(new PoolClosed("the sandbox pool is closed"));
    const shelf = this.shelf(key);
    shelf.lastTake = performance.now();
    const own = shelf.ready.shift();
    const sandbox = own ?? (this.options.mayClaim?.(key) === false ? undefined : this.claimUnassigned(key));
    if (sandbox) {
      // Spawning the replacement costs milliseconds; the taker should not wait for it.
      setImmediate(() => this.fill());
      return Promise.resolve(sandbox);
    }
    // It had to wait: this key needs one more kept ready than it had.
    shelf.target = Math.min(this.options.maxPerKey, shelf.target + 1);
    return new Promise((resolve, reject) => {
      const since = performance.now();
      const waiter: Waiter<S> = {
        since,
        resolve: (taken) => {
          clearTimeout(waiter.timer);
          this.options.onWait?.((performance.now() - since) / 1000, "served");
          resolve(taken);
        },
        reject,
        timer: setTimeout(() => {
          this.dropWaiter(key, waiter);
          this.options.onWait?.((performance.now() - since) / 1000, "timeout");
          reject(new PoolTimeout(`no interpreter could be started within ${this.options.waitTimeoutMs} ms (POOL_WAIT_TIMEOUT): the server is saturated; retry in a few seconds`));
        }, this.options.waitTimeoutMs),
      };
      const queue = this.waiters.get(key) ?? [];
      queue.push(waiter);
      this.waiters.set(key, queue);
      this.fill();
    });
  }

  /** Stops refilling and stops every ready interpreter; waiting takers are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    clearInterval(this.decayTimer);
    for (const queue of this.waiters.values()) {
      for (const waiter of queue) {
        clearTimeout(waiter.timer);
        waiter.reject(new PoolClosed("the sandbox pool is closed"));
      }
    }
    this.waiters.clear();
    const ready = [...this.shelves.values()].flatMap((shelf) => shelf.ready.splice(0));
    await Promise.all(ready.map((sandbox) => sandbox.close()));
    // A boot that finishes now is closed on delivery (see deliver).
    await Promise.all(this.boots);
  }

  private shelf(key: string | null): Shelf<S> {
    let shelf = this.shelves.get(key);
    if (!shelf) {
      shelf = { ready: [], booting: 0, target: 0, lastTake: performance.now() };
      this.shelves.set(key, shelf);
    }
    return shelf;
  }

  private claimUnassigned(key: string): S | undefined {
    const sandbox = this.shelves.get(null)!.ready.shift();
    if (sandbox) this.options.claim(sandbox, key);
    return sandbox;
  }

  /** Ready ones kept beyond the unassigned shelf. */
  private get keptForKeys(): number {
    let count = 0;
    for (const [key, shelf] of this.shelves) if (key !== null) count += shelf.ready.length + shelf.booting;
    return count;
  }

  private fill(): void {
    if (this.closed || this.retryTimer) return;
    while (this.boots.size < this.options.maxConcurrentBoots) {
      const key = this.nextBoot();
      if (key === undefined) return;
      this.boot(key);
    }
  }

  /** Which key to boot for next: waiting takers first (in turn), then the unassigned shelf, then demand. */
  private nextBoot(): string | null | undefined {
    for (const [key, queue] of this.waiters) {
      if (queue.length > this.shelf(key).booting) return key;
    }
    const unassigned = this.shelves.get(null)!;
    if (unassigned.ready.length + unassigned.booting < unassigned.target) return null;
    if (this.keptForKeys >= this.options.max) return undefined;
    for (const [key, shelf] of this.shelves) {
      if (key !== null && shelf.ready.length + shelf.booting < shelf.target) return key;
    }
    return undefined;
  }

  private boot(key: string | null): void {
    const shelf = this.shelf(key);
    shelf.booting++;
    const booting: Promise<unknown> = this.options.start(key).then(
      (sandbox) => {
        this.boots.delete(booting);
        shelf.booting--;
        this.failures = 0;
        this.failingSinceMs = null;
        const closing = this.deliver(sandbox, key);
        this.fill();
        return closing;
      },
      (error: Error) => {
        this.boots.delete(booting);
        shelf.booting--;
        this.failures++;
        this.failingSinceMs ??= performance.now();
        const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** (this.failures - 1));
        this.options.log.error("sandbox_boot_failed", { error: error.message, failures: this.failures, retry_in_ms: delay });
        if (this.closed || this.retryTimer) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.fill();
        }, delay);
      },
    );
    this.boots.add(booting);
  }

  /** The first waiter of `key`, or (for an unassigned interpreter) of the key whose turn it is. */
  private nextWaiter(key: string | null): { key: string; waiter: Waiter<S> } | undefined {
    const keys = key === null ? [...this.waiters.keys()] : [key];
    for (const candidate of keys) {
      const queue = this.waiters.get(candidate);
      const waiter = queue?.shift();
      if (!queue || !waiter) continue;
      this.waiters.delete(candidate);
      if (queue.length > 0) this.waiters.set(candidate, queue); // re-inserted: the key goes last in turn
      return { key: candidate, waiter };
    }
    return undefined;
  }

  private dropWaiter(key: string, waiter: Waiter<S>): void {
    const queue = this.waiters.get(key);
    const index = queue?.indexOf(waiter) ?? -1;
    if (index !== -1) queue!.splice(index, 1);
    if (queue?.length === 0) this.waiters.delete(key);
  }

  private deliver(sandbox: S, key: string | null): Promise<unknown> | void {
    if (this.closed) return sandbox.close();
    const next = this.nextWaiter(key);
    if (next) {
      if (key === null) this.options.claim(sandbox, next.key);
      return next.waiter.resolve(sandbox);
    }
    const shelf = this.shelf(key);
    shelf.ready.push(sandbox);
    // One that dies while ready is dropped and replaced.
    void sandbox.exited.then(() => {
      const index = shelf.ready.indexOf(sandbox);
      if (index === -1) return;
      shelf.ready.splice(index, 1);
      this.fill();
    });
  }

  /** Keys that went quiet give their ready interpreters back; their processes can then end. */
  private decay(): void {
    const now = performance.now();
    for (const [key, shelf] of this.shelves) {
      if (key === null || now - shelf.lastTake < this.options.idleKeyMs || this.waiters.has(key)) continue;
      for (const sandbox of shelf.ready.splice(0)) void sandbox.close();
      if (shelf.booting === 0) this.shelves.delete(key);
      else shelf.target = 0;
    }
  }
}
