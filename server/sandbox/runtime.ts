// Everything the server needs to hand out sandboxes: the runtime files, the base snapshot
// (built when missing) and the warm pool.
import { availableParallelism } from "node:os";
import type { SandboxSource } from "./interpreter.ts";
import { locateRuntimeFiles } from "./launch.ts";
import { SandboxPool } from "./pool.ts";
import { Sandbox, type SandboxEnvironment, type SandboxLimits } from "./sandbox.ts";
import { ensureBaseSnapshot } from "./snapshot.ts";
import type { Logger } from "../log.ts";

export interface SandboxRuntimeOptions {
  cacheDir: string;
  poolSize: number;
  limits: SandboxLimits;
  log: Logger;
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
  const environment: SandboxEnvironment = { files, cacheDir: options.cacheDir, snapshotPath, limits: options.limits, log: options.log };
  const start = async () => {
    const sandbox = await Sandbox.start(environment);
    options.log.debug("sandbox_booted", { pid: sandbox.pid, boot_ms: Math.round(sandbox.bootMs) });
    return sandbox;
  };
  const pool = new SandboxPool({
    size: options.poolSize,
    maxConcurrentBoots: Math.max(1, availableParallelism()),
    start,
    log: options.log,
  });
  const restore = (snapshot: Uint8Array) => Sandbox.start(environment, snapshot);
  return {
    environment,
    pool,
    start,
    restore,
    sourceFor: (key) => ({ take: () => pool.take(key), restore }),
    close: () => pool.close(),
  };
}
