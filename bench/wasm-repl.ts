// The wasm-repl driver: a real server as a child process (`node --import tsx server/main.ts`, as
// in production), driven with the SDK over WebSockets on loopback.
// A child rather than an App in the bench's own process: the bench client's CPU (JSON, sockets,
// timing) is then not the server's, and the server's sandboxes are exactly its children.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { SignJWT } from "jose";
import { ReplSession } from "../client/session.ts";
import type { CellOptions, Driver, DriverSession } from "./driver.ts";
import { ServerProcess } from "./processes.ts";

/** This tree: where its servers run from, and the repository a baseline is checked out of. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const START_TIMEOUT_MS = 120_000; // the first start may build the base snapshot
const TOKEN_TTL_S = 3600;
const READY_TIMEOUT_MS = 10_000;
const SCOPES = "sessions:create sessions:execute sessions:read";

export interface WasmReplOptions {
  poolSize: number;
  /** The checkout whose server runs: a baseline's, to compare; this tree's unless given. */
  root?: string;
}

/**
 * The environment a benchmarked server gets: its defaults, not this shell's, so runs compare;
 * `settings` adds what the bench is about.
 */
export function serverEnv(secret: string, settings: Record<string, string>): Record<string, string> {
  const inherited = ["PATH", "HOME", "TMPDIR", "CACHE_DIR"].flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : []));
  return {
    ...Object.fromEntries(inherited),
    HOST: "127.0.0.1",
    PORT: "0",
    JWT_SECRET: secret,
    LOG_LEVEL: "info", // the default: one log line per cell, as in production
    ...settings,
  };
}

/** A token for user and tenant `name`, with the scopes a notebook user has. */
export function benchToken(secret: Uint8Array, name: string): Promise<string> {
  return new SignJWT({ tenant: name, scope: SCOPES })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(name)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + TOKEN_TTL_S)
    .sign(secret);
}

class WasmReplSession implements DriverSession {
  constructor(private readonly session: ReplSession) {}

  async execute(code: string, options: CellOptions = {}): Promise<void> {
    // No timeout of its own: the server's EXECUTION_TIMEOUT (30 s) bounds a cell that hangs.
    const result = await this.session.execute(code, options);
    if (!result.success) throw new Error(`wasm-repl cell ${JSON.stringify(code)} failed: ${result.error?.type}: ${result.error?.message}`);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

class WasmReplDriver implements Driver {
  readonly name = "wasm-repl";
  readonly localsModes = ["none", "all"] as const;
  private opened = 0;
  /** Signed ahead of time: a client holds its token before it connects, so signing is not timed. */
  private nextToken: Promise<string>;

  constructor(
    private readonly server: ServerProcess,
    private readonly url: string,
    private readonly secret: Uint8Array,
  ) {
    this.nextToken = this.token();
  }

  get serverPid(): number {
    return this.server.pid;
  }

  async ready(): Promise<boolean> {
    const response = await fetch(`${this.url}/ready`, { signal: AbortSignal.timeout(READY_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.ok;
  }

  async open(): Promise<DriverSession> {
    const token = await this.nextToken;
    this.nextToken = this.token();
    return new WasmReplSession(await ReplSession.open(this.url, { token, reconnect: false }));
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  /**
   * One user and tenant per session, as for ten people: per-tenant quotas (cells running at once,
   * opens per minute) are a policy, not what this benchmark measures.
   */
  private token(): Promise<string> {
    return benchToken(this.secret, `bench-${++this.opened}`);
  }
}

/** A server as a child process, with a secret of its own unless given one; `settings` on top of serverEnv's. */
export async function launchServer(
  settings: Record<string, string>,
  { name = "wasm-repl", secret = randomBytes(32).toString("hex"), root = REPO_ROOT }: { name?: string; secret?: string; root?: string } = {},
): Promise<{ server: ServerProcess; url: string; secret: Uint8Array }> {
  const server = new ServerProcess({
    name,
    command: process.execPath,
    args: ["--import", "tsx", "server/main.ts"],
    env: serverEnv(secret, settings),
    // Another checkout's server (the bench's baseline) runs from its own tree.
    cwd: root,
  });
  try {
    const [, url] = await server.waitForOutput(/listening on (http:\/\/[^\s)]+)/, START_TIMEOUT_MS);
    return { server, url: url!, secret: new TextEncoder().encode(secret) };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export async function startWasmRepl(options: WasmReplOptions): Promise<Driver> {
  // A session's cells in a loop, one after another, send more than FRAME_RATE's 1000 frames a
  // second once a round trip is under a millisecond: the rate limit is not what this measures.
  const settings = { POOL_SIZE: String(options.poolSize), FRAME_RATE: "0" };
  const { server, url, secret } = await launchServer(settings, { root: options.root });
  return new WasmReplDriver(server, url, secret);
}
