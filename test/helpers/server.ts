// A real wasm-repl server for tests: real sockets, real sandboxes, an HS256 secret of its own.
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import type { App } from "../../server/app.ts";
import { composeServer } from "../../server/compose.ts";
import type { Stores } from "../../server/store/setup.ts";
import { SCOPES, type Scope } from "../../server/auth/identity.ts";
import { TokenSigner } from "../../server/auth/tokens.ts";
import { systemClock } from "../../server/clock.ts";
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";

export interface TokenClaims {
  user: string;
  tenant: string;
  scopes: readonly Scope[];
  limits: Parameters<TokenSigner["sign"]>[0]["limits"];
}

export interface TestServer {
  app: App;
  stores: Stores;
  /** Shuts it down before the test file ends (it is shut down at the end otherwise). */
  shutdown(): Promise<void>;
  /** http://127.0.0.1:PORT */
  url: string;
  secret: string;
  /** A token for alice of tenant acme with every scope but tenant:admin, unless told otherwise. */
  token(claims?: Partial<TokenClaims>, ttlSeconds?: number): Promise<string>;
}

const USER_SCOPES = SCOPES.filter((scope) => scope !== "tenant:admin");

/**
 * Starts a server on a free port with the given environment on top of the defaults; it is shut
 * down when the test file ends. Call at the top level of a test file.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const secret = env.JWT_SECRET || randomBytes(32).toString("hex");
  const config = loadConfig({ POOL_SIZE: "1", JWT_SECRET: secret, ...env, PORT: "0", HOST: "127.0.0.1", CACHE_DIR: process.env.CACHE_DIR });
  const { app, stores, shutdown } = await composeServer(config, silentLogger, systemClock);
  const signer = new TokenSigner(secret);
  const address = await app.listen();
  let stopped: Promise<void> | null = null;
  const stop = () => (stopped ??= shutdown());
  after(stop);
  return {
    app,
    stores,
    shutdown: stop,
    url: `http://127.0.0.1:${address.port}`,
    secret,
    token: (claims = {}, ttlSeconds = 3600) => signer.sign({ user: "alice", tenant: "acme", scopes: USER_SCOPES, ...claims }, ttlSeconds),
  };
}
