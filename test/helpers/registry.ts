// A session registry on real sandboxes, a store and a clock the test gives: the registry and its
// sessions driven directly, with no server or socket in between.
import { readFileSync } from "node:fs";
import type { SessionLimits } from "../../protocol/index.ts";
import { SCOPES, type Identity, type Scope } from "../../server/auth/identity.ts";
import type { Clock } from "../../server/clock.ts";
import { loadConfig } from "../../server/config.ts";
import { Hibernator } from "../../server/hibernation/hibernator.ts";
import { LlmService } from "../../server/llm/service.ts";
import { silentLogger, type Logger } from "../../server/log.ts";
import { Metrics } from "../../server/metrics.ts";
import type { SandboxRuntime } from "../../server/sandbox/runtime.ts";
import { BufferBudget } from "../../server/sessions/buffers.ts";
import type { RegistryOptions } from "../../server/sessions/registry.ts";
import { MemorySnapshotStore } from "../../server/store/memory.ts";
import type { SessionStore } from "../../server/store/store.ts";
import { TenantQuotas } from "../../server/tenancy/quotas.ts";

const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });

export interface RegistryParts {
  runtime: SandboxRuntime;
  store: SessionStore;
  clock: Clock;
  log?: Logger;
  metrics?: Metrics;
  limits?: Partial<SessionLimits>;
  /** Snapshots shared by registries that stand for pods of one cluster. */
  snapshots?: MemorySnapshotStore;
}

export function sessionLimits(overrides: Partial<SessionLimits> = {}): SessionLimits {
  return {
    execution_timeout: 30,
    max_execution_timeout: 300,
    idle_timeout: 60,
    max_queued_cells: 16,
    max_frame_bytes: config.server.maxFrameBytes,
    max_output_bytes: config.sandbox.maxOutputBytes,
    memory_mb: config.sandbox.memoryMb,
    replay_buffer_bytes: config.server.replayBufferBytes,
    max_file_bytes: config.server.maxFileBytes,
    ...overrides,
  };
}

/** Options as the server builds them, with the idle timeout of `limits` and everything else off until a test turns it on. */
export function registryOptions({ runtime, store, clock, log = silentLogger, metrics = new Metrics({ tenants: [], models: [] }), limits, snapshots }: RegistryParts, overrides: Partial<RegistryOptions> = {}): RegistryOptions {
  const sessionLimitsNow = sessionLimits(limits);
  return {
    maxSessions: 10,
    idleTimeoutMs: sessionLimitsNow.idle_timeout * 1000,
    maxLifetimeMs: 24 * 3600_000,
    hibernateAfterMs: 0,
    checkpointAfterMs: 0,
    drainTimeoutMs: 500,
    interruptedWorkMs: config.sandbox.killGraceMs + 2000,
    sharedStore: true,
    retentionMs: 3600_000,
    heartbeatTtlMs: 15_000,
    settings: { limits: sessionLimitsNow, logCode: false, buffers: new BufferBudget(config.server.buffers), toolClientTimeoutMs: config.server.toolClientTimeout * 1000 },
    sandboxes: runtime,
    llm: new LlmService(config.llm, metrics, runtime, 30_000),
    quotas: new TenantQuotas({ maxSessions: 10, maxRunning: 10, openRate: 100 }, clock),
    store,
    hibernator: new Hibernator(snapshots ?? new MemorySnapshotStore(), readFileSync(runtime.environment.snapshotPath), 256 * 1024 * 1024),
    pod: { name: "pod-test", address: "127.0.0.1:1" },
    clock,
    log,
    metrics,
    ...overrides,
  };
}

/** A caller with every scope, valid for an hour. */
export function identity(tenant: string, user = "alice", scopes: Iterable<Scope> = SCOPES): Identity {
  return { user, tenant, scopes: new Set(scopes), limits: {}, expiresAt: Date.now() + 3600_000 };
}
