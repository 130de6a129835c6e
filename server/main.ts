// `npm start`: reads the configuration, prepares the sandboxes, serves until SIGTERM or SIGINT.
import { randomBytes } from "node:crypto";
import { App } from "./app.ts";
import { SecretVerifier } from "./auth/tokens.ts";
import { systemClock } from "./clock.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./log.ts";
import { startSandboxRuntime } from "./sandbox/runtime.ts";

const DEV_TOKEN_TTL_SECONDS = 24 * 3600;

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

const config = readConfig();
const log = createLogger(config.logLevel);
const development = config.server.jwtSecret === null;
const verifier = new SecretVerifier(config.server.jwtSecret ?? randomBytes(32).toString("base64url"));
const sandboxes = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: config.poolSize, limits: config.sandbox, log });
const app = new App({ config, log, sandboxes, verifier, clock: systemClock });
const address = await app.listen();
const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
process.stdout.write(`wasm-repl listening on http://${host}:${address.port} (sessions at ws://${host}:${address.port}/v1/sessions)\n`);
if (development) {
  const token = await verifier.sign({ user: "dev", tenant: "dev" }, DEV_TOKEN_TTL_SECONDS);
  process.stdout.write(`development mode: no JWT_SECRET, so a secret was generated for this run (loopback only)\ntoken: ${token}\n`);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    log.info("shutdown_started", { signal, sessions: app.registry.size });
    await app.shutdown();
    log.info("shutdown_finished", {});
    process.exit(0);
  });
}
