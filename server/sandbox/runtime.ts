// Everything the server needs to hand out sandboxes: the runtime files, the base snapshot
// (built when missing) and the warm pool.
import { availableParallelism } from "node:os";
import type { SandboxSource } from "./interpreter.ts";
import { locateRuntimeFiles } from "./launch.ts";
import { SandboxPool } from "./pool.ts";
import { Sandbox, type SandboxEnvironment, type SandboxLimits } from "./sandbox.ts";
import { ensureBaseSnapshot } from "./snapshot.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

export interface SandboxRuntimeOptions {
  cacheDir: string;
  poolSize: number;
  limits: SandboxLimits;
  log: Logger;
  /** Boot times, exits by cause and the pool's size; a server passes its own (tools and tests may not). */
  metrics?: Metrics;
}

export interface SandboxRuntime {
  environment: SandboxEnvironment;
  pool: SandboxPool<Sandbox>;
  /** Boots a sandbox outside the pool (for measuring, or one-off work). */
  start(): Promise<Sandbox>;
  /** Boots a sandbox from a session's snapshot: the session wakes with every variable. */
  restore(snapshot: Uint8Array): Promise<Sandbox>;
  /** Sandboxes for one session's interpreter; `key` (its tenant) shares the pool fairly. */
  sourceFor(key: string): SandboxSource;
  close(): Promise<void>;
}

export async function startSandboxRuntime(options: SandboxRuntimeOptions): Promise<SandboxRuntime> {
  const files = locateRuntimeFiles();
  const snapshotPath = await ensureBaseSnapshot(files, options.cacheDir, options.log);
  const { metrics } = options;
  const environment: SandboxEnvironment = {
    files,
    cacheDir: options.cacheDir,
    snapshotPath,
    limits: options.limits,
    log: options.log,
    ...(metrics && { onExit: (exit) => metrics.sandboxExited(exit.cause) }),
  };
  // Boot time as the server sees it: from spawning the process to its interpreter answering.
  const start = async () => {
    const began = performance.now();
    const sandbox = await Sandbox.start(environment);
    options.log.debug("sandbox_booted", { pid: sandbox.pid, boot_ms: Math.round(sandbox.bootMs) });
    metrics?.sandboxBooted("base", (performance.now() - began) / 1000);
    return sandbox;
  };
  const pool = new SandboxPool({
    size: options.poolSize,
    maxConcurrentBoots: Math.max(1, availableParallelism()),
    start,
    log: options.log,
  });
  const restore = async (snapshot: Uint8Array) => {
    const began = performance.now();
    const sandbox = await Sandbox.start(environment, snapshot);
    options.log.debug("sandbox_restored", { pid: sandbox.pid, boot_ms: Math.round(sandbox.bootMs) });
    metrics?.sandboxBooted("snapshot", (performance.now() - began) / 1000);
    return sandbox;
  };
  metrics?.observePool(() => pool.available);
  return {
    environment,
    pool,
    start,
    restore,
    sourceFor: (key) => ({ take: () => pool.take(key), restore }),
    close: () => pool.close(),
  };
}
