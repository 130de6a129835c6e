// `npm start`: reads the configuration, prepares the sandboxes, serves until SIGTERM or SIGINT.
import { installProcessBoundary } from "./boundary.ts";
import { composeServer } from "./compose.ts";
import { systemClock } from "./clock.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./log.ts";

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
const { app, auth, metrics, shutdown } = await composeServer(config, log, systemClock);
// From here on a stray failure is logged and counted, not fatal (see boundary.ts); one while
// starting up still ends the process, which then never served anyone.
installProcessBoundary({ log, metrics });
const address = await app.listen();
const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
const metricsAddress = app.metricsServer?.address();
log.info("server_started", {
  address: `${host}:${address.port}`,
  metrics: `${typeof metricsAddress === "object" && metricsAddress ? `${host}:${metricsAddress.port}` : `${host}:${address.port}`}/metrics`,
  development: auth.development,
});
// People read these lines on stderr; stdout carries only the JSON log lines.
process.stderr.write(`wasm-repl listening on http://${host}:${address.port} (sessions at ws://${host}:${address.port}/v1/sessions)\n`);
if (config.page) process.stderr.write(`the notebook: open http://${host}:${address.port} in a browser\n`);
if (auth.developmentToken) {
  const token = await auth.developmentToken();
  process.stderr.write(
    `development mode: no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL, so tokens are signed with a generated secret (loopback only; \`npm run token\` makes more)\ntoken: ${token}\n`,
  );
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    log.info("shutdown_started", { signal, sessions: app.registry.size });
    await shutdown();
    log.info("shutdown_finished", {});
    process.exit(0);
  });
}
