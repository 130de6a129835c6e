// A real wasm-repl server for tests: real sockets, real sandboxes, an HS256 secret of its own.
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { App } from "../../server/app.ts";
import type { Identity } from "../../server/auth/identity.ts";
import { SecretVerifier } from "../../server/auth/tokens.ts";
import { systemClock } from "../../server/clock.ts";
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";
import { startSandboxRuntime } from "../../server/sandbox/runtime.ts";

export interface TestServer {
  app: App;
  /** http://127.0.0.1:PORT */
  url: string;
  secret: string;
  token(identity?: Partial<Identity>, ttlSeconds?: number): Promise<string>;
}

/**
 * Starts a server on a free port with the given environment on top of the defaults; it is shut
 * down when the test file ends. Call at the top level of a test file.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const secret = randomBytes(32).toString("hex");
  const config = loadConfig({ POOL_SIZE: "1", ...env, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: secret, CACHE_DIR: process.env.CACHE_DIR });
  const sandboxes = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: config.poolSize, limits: config.sandbox, log: silentLogger });
  const verifier = new SecretVerifier(secret);
  const app = new App({ config, log: silentLogger, sandboxes, verifier, clock: systemClock });
  const address = await app.listen();
  after(() => app.shutdown());
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    secret,
    token: (identity = {}, ttlSeconds = 3600) => verifier.sign({ user: "alice", tenant: "acme", ...identity }, ttlSeconds),
  };
}
