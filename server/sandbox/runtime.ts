// Everything the server needs to hand out interpreters: the runtime files, the base snapshot
// (built when missing), the sandbox processes by identity, and the pool of ready interpreters.
import { availableParallelism } from "node:os";
import type { Identity } from "../auth/identity.ts";
import type { Logger } from "../log.ts";
import { SandboxHosts } from "./hosts.ts";
import type { SandboxSource } from "./interpreter.ts";
import { locateRuntimeFiles } from "./launch.ts";
import { NO_PACKAGES, type PackageSettings } from "./package-settings.ts";
import { DEFAULT_POOL_SETTINGS, type PoolSettings } from "./pool-settings.ts";
import { SandboxPool } from "./pool.ts";
import type { ProcessEnvironment, SandboxProcess } from "./sandbox-process.ts";
import { Sandbox, type ExitCause, type SandboxEnvironment, type SandboxExit, type SandboxLimits } from "./sandbox.ts";
import { ensureBaseSnapshot } from "./snapshot.ts";

/** What the runtime reports: boots, exits, waits for the pool, and the pool's size when scraped. */
export interface RuntimeMetrics {
  sandboxBooted(source: "base" | "snapshot", seconds: number): void;
  sandboxExited(cause: ExitCause): void;
  poolWaited(seconds: number, outcome: "served" | "timeout"): void;
  observePool(source: () => { available: number; processes: number }): void;
}

export interface SandboxRuntimeOptions {
  cacheDir: string;
  /** POOL_SIZE: ready interpreters kept for identities not seen yet. */
  poolSize: number;
  pool?: Partial<PoolSettings>;
  limits: SandboxLimits;
  log: Logger;
  /** Boot times, exits by cause and the pool's size; a server passes its own (tools and tests may not). */
  metrics?: RuntimeMetrics;
  /** The package repository and the packages the base snapshot holds; none when absent. */
  packages?: PackageSettings;
}

export interface SandboxRuntime {
  environment: SandboxEnvironment & ProcessEnvironment & { cacheDir: string };
  pool: SandboxPool<Sandbox>;
  hosts: SandboxHosts;
  /** Boots an interpreter in a process of its own, outside the pool (for measuring, or one-off work). */
  start(): Promise<Sandbox>;
  /** Likewise, from a session's snapshot: the session wakes with every variable. */
  restore(snapshot: Uint8Array): Promise<Sandbox>;
  /** Interpreters for one identity: from the pool, and woken from snapshots, in its processes only. */
  sourceFor(owner: Pick<Identity, "tenant" | "user">): SandboxSource;
  close(): Promise<void>;
}

/** The pool's and the processes' key: interpreters of different keys never share a process. */
export function identityKey(owner: Pick<Identity, "tenant" | "user">): string {
  return JSON.stringify([owner.tenant, owner.user]);
}

export async function startSandboxRuntime(options: SandboxRuntimeOptions): Promise<SandboxRuntime> {
  const packages = options.packages ?? NO_PACKAGES;
  const files = locateRuntimeFiles(packages.dir);
  const snapshotPath = await ensureBaseSnapshot(files, packages, options.cacheDir, options.log);
  const settings = { ...DEFAULT_POOL_SETTINGS, ...options.pool };
  const { metrics, log } = options;
  const environment = {
    files,
    cacheDir: options.cacheDir,
    snapshotPath,
    limits: options.limits,
    log,
    ...(metrics && { onExit: (exit: SandboxExit) => metrics.sandboxExited(exit.cause) }),
  };
  const hosts = new SandboxHosts({
    environment,
    perProcess: settings.interpretersPerProcess,
    recycleAfter: settings.recycleAfter,
    idleMs: settings.idleIdentityMs,
  });
  // Boot time as the server sees it: from asking for an interpreter to its first answer.
  const boot = async (host: SandboxProcess, snapshot?: Uint8Array) => {
    const began = performance.now();
    const booting = Sandbox.start(environment, host, snapshot);
    void booting.then(
      (sandbox) => sandbox.exited.then(() => hosts.released(host)),
      () => hosts.released(host),
    );
    const sandbox = await booting;
    log.debug(snapshot ? "sandbox_restored" : "sandbox_booted", { pid: sandbox.pid, boot_ms: Math.round(sandbox.bootMs) });
    metrics?.sandboxBooted(snapshot ? "snapshot" : "base", (performance.now() - began) / 1000);
    return sandbox;
  };
  /** An interpreter whose process ends with it. */
  const alone = (snapshot?: Uint8Array) => {
    const host = hosts.hostFor(null);
    const booting = boot(host, snapshot);
    host.retire();
    return booting;
  };
  const pool = new SandboxPool<Sandbox>({
    size: options.poolSize,
    maxPerKey: settings.maxPerIdentity,
    max: settings.max,
    maxConcurrentBoots: Math.max(1, availableParallelism()),
    start: (key) => boot(hosts.hostFor(key)),
    claim: (sandbox, key) => hosts.assign(sandbox.host, key),
    mayClaim: (key) => !hosts.hasRoomFor(key),
    waitTimeoutMs: settings.waitTimeoutMs,
    idleKeyMs: settings.idleIdentityMs,
    log,
    ...(metrics && { onWait: (seconds, outcome) => metrics.poolWaited(seconds, outcome) }),
  });
  metrics?.observePool(() => ({ available: pool.available, processes: hosts.processes }));
  return {
    environment,
    pool,
    hosts,
    start: () => alone(),
    restore: (snapshot) => alone(snapshot),
    sourceFor: (owner) => {
      const key = identityKey(owner);
      return { take: () => pool.take(key), restore: (snapshot) => boot(hosts.hostFor(key), snapshot) };
    },
    close: async () => {
      await pool.close();
      await hosts.close();
    },
  };
}
