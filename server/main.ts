// `npm start`: reads the configuration, prepares the sandbox runtime, and runs until signalled.
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { startSandboxRuntime } from "./sandbox/runtime.ts";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
const runtime = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: config.poolSize, limits: config.sandbox, log });
log.info("sandbox_runtime_ready", { pool_size: config.poolSize, snapshot: runtime.environment.snapshotPath });

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    log.info("shutdown", { signal });
    await runtime.close();
    process.exit(0);
  });
}
