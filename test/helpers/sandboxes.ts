// Real sandboxes for tests: the same runtime the server uses, with limits a test may tighten.
import { after } from "node:test";
import { loadConfig } from "../../server/config.ts";
import { silentLogger, type Logger } from "../../server/log.ts";
import type { Metrics } from "../../server/metrics.ts";
import type { PackageSettings } from "../../server/sandbox/package-settings.ts";
import type { PoolSettings } from "../../server/sandbox/pool-settings.ts";
import { startSandboxRuntime, type SandboxRuntime } from "../../server/sandbox/runtime.ts";
import type { CellRequest, CellResult, Sandbox, SandboxLimits } from "../../server/sandbox/sandbox.ts";

export interface TestRuntimeOptions {
  limits?: Partial<SandboxLimits>;
  poolSize?: number;
  pool?: Partial<PoolSettings>;
  log?: Logger;
  /** Counts the runtime's boots and exits by cause. */
  metrics?: Metrics;
  /** A package repository (see test/helpers/repository.ts). */
  packages?: PackageSettings;
}

/**
 * Starts a runtime that is closed, with every sandbox it handed out, when the test file ends.
 * Call it at the top level of a test file: `after` binds to the context it is called in.
 */
export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<SandboxRuntime> {
  const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
  const runtime = await startSandboxRuntime({
    cacheDir: config.cacheDir,
    poolSize: options.poolSize ?? 1,
    ...(options.pool && { pool: options.pool }),
    limits: { ...config.sandbox, ...options.limits },
    log: options.log ?? silentLogger,
    metrics: options.metrics,
    packages: options.packages,
  });
  const handedOut: Sandbox[] = [];
  const take = runtime.pool.take.bind(runtime.pool);
  runtime.pool.take = async (...args) => {
    const sandbox = await take(...args);
    handedOut.push(sandbox);
    return sandbox;
  };
  after(async () => {
    await runtime.close();
    await Promise.all(handedOut.map((sandbox) => sandbox.close()));
  });
  return runtime;
}

/** Runs a cell with test defaults: 10 s timeout, all locals. */
export function run(sandbox: Sandbox, code: string, request: Partial<CellRequest> = {}): Promise<CellResult> {
  return sandbox.execute({ code, timeoutMs: 10_000, locals: "all", ...request });
}

/** Hibernates a sandbox's interpreter and wakes it in a fresh one, as a session's does: snapshot, close, restore. */
export async function hibernateAndWake(runtime: SandboxRuntime, sandbox: Sandbox): Promise<Sandbox> {
  const snapshot = await sandbox.snapshot();
  await sandbox.close();
  return runtime.restore(snapshot);
}
