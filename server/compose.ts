// Builds the whole server from its configuration: authentication, sandboxes, stores, hibernation.
// `npm start` and the tests assemble it the same way.
import { readFile } from "node:fs/promises";
import { App } from "./app.ts";
import { createAuth, type Auth } from "./auth/setup.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { Hibernator } from "./hibernation/hibernator.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { startSandboxRuntime } from "./sandbox/runtime.ts";
import { createStores, type Stores } from "./store/setup.ts";

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
  const sandboxes = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: config.poolSize, pool: config.pool, limits: config.sandbox, log, metrics });
  const stores = await createStores(config.store, clock, log);
  const { queueing } = stores;
  if (queueing) {
    metrics.observeStore(() => ({ pendingWrites: queueing.pendingWrites, available: queueing.available }));
    queueing.on("unavailable", () => metrics.storeError("outage"));
  }
  // Hibernated snapshots are stored as differences from the base every sandbox boots from.
  const base = await readFile(sandboxes.environment.snapshotPath);
  const hibernator = new Hibernator(stores.snapshots, base, config.store.snapshotMaxMb * 1024 * 1024);
  const app = new App({ config, log, sandboxes, verifier: auth.verifier, store: stores.sessions, hibernator, clock, metrics });
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
