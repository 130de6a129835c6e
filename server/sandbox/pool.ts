// A pool of booted sandboxes, refilled in the background, so that taking one costs a hand-over
// instead of a boot. Boot failures back off and are logged; they never wedge the pool.
import type { Logger } from "../log.ts";

/** What the pool needs of a sandbox: it is generic so tests can drive it with any process-like thing. */
export interface Poolable {
  readonly alive: boolean;
  readonly exited: Promise<unknown>;
  close(): Promise<unknown>;
}

export interface PoolOptions<S> {
  size: number;
  /** Boots running at once: each is CPU-bound, so more than the cores only slows all of them. */
  maxConcurrentBoots: number;
  start: () => Promise<S>;
  log: Logger;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export class PoolClosed extends Error {}

interface Waiter<S> {
  resolve(sandbox: S): void;
  reject(error: Error): void;
}

export class SandboxPool<S extends Poolable> {
  private readonly idle: S[] = [];
  /**
   * Takers waiting for a boot, per key (a tenant): served in turn across keys, so one key's
   * burst cannot make everyone else wait behind it.
   */
  private readonly waiters = new Map<string, Waiter<S>[]>();
  /** Boots under way; close() waits for them so no sandbox outlives the pool. */
  private readonly boots = new Set<Promise<unknown>>();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: PoolOptions<S>) {
    this.retryInitialMs = options.retryInitialMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.fill();
  }

  /** Ready sandboxes waiting to be taken. */
  get available(): number {
    return this.idle.length;
  }

  /** Consecutive failed boots; zero once one succeeds. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * A ready sandbox: at once when the pool holds one, otherwise the next to finish booting
   * (shared in turn among the keys that wait).
   */
  take(key = ""): Promise<S> {
    if (this.closed) return Promise.reject(new PoolClosed("the sandbox pool is closed"));
    const sandbox = this.idle.shift();
    if (sandbox) {
      // Spawning the replacement costs milliseconds; the taker should not wait for it.
      setImmediate(() => this.fill());
      return Promise.resolve(sandbox);
    }
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(key) ?? [];
      queue.push({ resolve, reject });
      this.waiters.set(key, queue);
      this.fill();
    });
  }

  /** Stops refilling and stops every idle sandbox; waiting takers are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const queue of this.waiters.values()) for (const waiter of queue) waiter.reject(new PoolClosed("the sandbox pool is closed"));
    this.waiters.clear();
    await Promise.all(this.idle.splice(0).map((sandbox) => sandbox.close()));
    // A boot that finishes now is closed on delivery (see deliver).
    await Promise.all(this.boots);
  }

  private fill(): void {
    if (this.closed || this.retryTimer) return;
    const wanted = this.options.size + this.waiting;
    while (this.idle.length + this.boots.size < wanted && this.boots.size < this.options.maxConcurrentBoots) {
      this.boot();
    }
  }

  private boot(): void {
    const booting: Promise<unknown> = this.options.start().then(
      (sandbox) => {
        this.boots.delete(booting);
        this.failures = 0;
        const closing = this.deliver(sandbox);
        this.fill();
        return closing;
      },
      (error: Error) => {
        this.boots.delete(booting);
        this.failures++;
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

  private get waiting(): number {
    let count = 0;
    for (const queue of this.waiters.values()) count += queue.length;
    return count;
  }

  /** The first waiter of the key that has waited longest for its turn; the key then goes last. */
  private nextWaiter(): Waiter<S> | undefined {
    for (const [key, queue] of this.waiters) {
      const waiter = queue.shift();
      this.waiters.delete(key);
      if (queue.length > 0) this.waiters.set(key, queue); // re-inserted: Map order is the turn order
      if (waiter) return waiter;
    }
    return undefined;
  }

  private deliver(sandbox: S): Promise<unknown> | void {
    if (this.closed) return sandbox.close();
    const waiter = this.nextWaiter();
    if (waiter) return waiter.resolve(sandbox);
    this.idle.push(sandbox);
    // One that dies while idle is dropped and replaced.
    void sandbox.exited.then(() => {
      const index = this.idle.indexOf(sandbox);
      if (index === -1) return;
      this.idle.splice(index, 1);
      this.fill();
    });
  }
}
