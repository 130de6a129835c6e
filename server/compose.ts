// Builds the whole server from its configuration: authentication, sandboxes, stores, hibernation,
// the tenants' quotas and rates, the sessions, and the App that serves them. `npm start` and the
// tests assemble it the same way; nothing else constructs these parts.
import { readFile } from "node:fs/promises";
import type { SessionLimits } from "../protocol/index.ts";
import { App } from "./app.ts";
import { createAuth, type Auth } from "./auth/setup.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { Hibernator } from "./hibernation/hibernator.ts";
import { authenticator } from "./http/authenticate.ts";
import { FrameParser } from "./v1/frame-parser.ts";
import { OwnerForwarding } from "./http/forwarding.ts";
import { RateLimiter } from "./http/rate-limit.ts";
import { LlmService } from "./llm/service.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { loadPage } from "./page/bundle.ts";
import { Forwarder } from "./routing/forwarder.ts";
import { startSandboxRuntime } from "./sandbox/runtime.ts";
import { BufferBudget } from "./sessions/buffers.ts";
import type { PodIdentity } from "./sessions/ownership.ts";
import { SessionRegistry } from "./sessions/registry.ts";
import { createStores, type Stores } from "./store/setup.ts";
import { TenantQuotas } from "./tenancy/quotas.ts";

export interface Server {
  app: App;
  auth: Auth;
  stores: Stores;
  metrics: Metrics;
  /** Drains the app (see App.shutdown), then closes the stores. */
  shutdown(): Promise<void>;
}

export async function composeServer(config: Config, log: Logger, clock: Clock): Promise<Server> {
  const metrics = new Metrics({ tenants: config.metrics.tenants, models: [config.llm.model, ...(config.llm.subModel ? [config.llm.subModel] : [])] });
  const auth = await createAuth(config.auth, config.cacheDir, clock);
  const sandboxes = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: config.poolSize, pool: config.pool, limits: config.sandbox, packages: config.packages, log, metrics });
  const stores = await createStores(config.store, clock, log);
  const { queueing } = stores;
  if (queueing) {
    metrics.observeStore(() => ({ pendingWrites: queueing.pendingWrites, available: queueing.available }));
    queueing.on("unavailable", () => metrics.storeError("outage"));
  }
  // Hibernated snapshots are stored as differences from the base every sandbox boots from.
  const base = await readFile(sandboxes.environment.snapshotPath);
  const hibernator = new Hibernator(stores.snapshots, base, config.store.snapshotMaxMb * 1024 * 1024);
  const quotas = new TenantQuotas(config.tenantLimits, clock);
  const buffers = new BufferBudget(config.server.buffers);
  metrics.observeBuffers(() => buffers.usage());
  const llm = new LlmService(config.llm, metrics, sandboxes, config.server.executionTimeout * 1000);
  // Without POD_ADDRESS the address is where this server listens, known once it does (App.listen).
  const pod: PodIdentity = { name: config.store.podName, address: config.store.podAddress ?? `${config.server.host}:${config.server.port}` };
  const registry = new SessionRegistry({
    maxSessions: config.server.maxSessions,
    idleTimeoutMs: config.server.idleTimeout * 1000,
    maxLifetimeMs: config.lifecycle.maxSessionLifetime * 1000,
    hibernateAfterMs: config.lifecycle.hibernateAfter * 1000,
    checkpointAfterMs: config.lifecycle.checkpointAfter * 1000,
    drainTimeoutMs: config.lifecycle.drainTimeout * 1000,
    // A cell gets its kill grace; set_vars or add_context, a sandbox's call deadline.
    interruptedWorkMs: config.sandbox.killGraceMs + config.sandbox.callTimeoutMs,
    sharedStore: config.store.redisUrl !== null,
    retentionMs: config.server.sessionRetention * 1000,
    heartbeatTtlMs: config.store.heartbeatTtlMs,
    settings: { limits: sessionLimits(config), logCode: config.logCode, buffers, toolClientTimeoutMs: config.server.toolClientTimeout * 1000 },
    sandboxes,
    llm,
    quotas,
    store: stores.sessions,
    hibernator,
    pod,
    clock,
    log,
    metrics,
  });
  const page = config.page ? await loadPage(config.cacheDir, log) : null;
  const app = new App({
    config,
    log,
    metrics,
    clock,
    verifier: auth.verifier,
    developmentToken: auth.developmentToken,
    page,
    authenticate: authenticator({ verifier: auth.verifier, allowQueryToken: config.auth.allowQueryToken, log, metrics }),
    sandboxes,
    store: stores.sessions,
    registry,
    quotas,
    llm,
    rates: new RateLimiter(config.server.rateLimits),
    parser: new FrameParser({ maxFrameBytes: config.server.maxFrameBytes, thresholdBytes: config.server.offThreadParseBytes ?? undefined }),
    forwarding: new OwnerForwarding(new Forwarder(config.store.podName), metrics),
    pod,
  });
  return {
    app,
    auth,
    stores,
    metrics,
    shutdown: async () => {
      await app.shutdown();
      await stores.close();
    },
  };
}

/** The limits every session runs under, which it tells its clients in its `session` frame. */
function sessionLimits(config: Config): SessionLimits {
  return {
    execution_timeout: config.server.executionTimeout,
    max_execution_timeout: config.server.maxExecutionTimeout,
    idle_timeout: config.server.idleTimeout,
    max_queued_cells: config.server.maxQueuedCells,
    max_frame_bytes: config.server.maxFrameBytes,
    max_output_bytes: config.sandbox.maxOutputBytes,
    memory_mb: config.sandbox.memoryMb,
    replay_buffer_bytes: config.server.replayBufferBytes,
    max_file_bytes: config.server.maxFileBytes,
  };
}
