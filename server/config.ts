// Configuration: read once from the environment at start-up into a typed object.
// Every error names the variable, what it got and what it wants; all errors are reported at once.
import { fileURLToPath } from "node:url";
import type { LogLevel } from "./log.ts";
import type { SandboxLimits } from "./sandbox/sandbox.ts";

export interface ServerConfig {
  host: string;
  port: number;
  /** HS256 secret; null means development mode (a generated secret, loopback only). */
  jwtSecret: string | null;
  maxSessions: number;
  maxFrameBytes: number;
  maxQueuedCells: number;
  replayBufferBytes: number;
  /** Seconds. */
  executionTimeout: number;
  maxExecutionTimeout: number;
  idleTimeout: number;
  sessionRetention: number;
}

export interface Config {
  server: ServerConfig;
  logLevel: LogLevel;
  /** Where the base snapshot and Deno's transpile cache live; must be writable. */
  cacheDir: string;
  poolSize: number;
  sandbox: SandboxLimits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

type Env = Record<string, string | undefined>;

const DEFAULT_CACHE_DIR = fileURLToPath(new URL("../.cache", import.meta.url));

/** Reads variables, collecting every problem instead of stopping at the first. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw === "" ? fallback : raw;
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A positive number of seconds; fractions allowed. */
  seconds(name: string, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected a positive number of seconds`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const server: ServerConfig = {
    host: read.string("HOST", "127.0.0.1"),
    port: read.integer("PORT", 8000, 0, 65535),
    jwtSecret: read.string("JWT_SECRET", "") || null,
    maxSessions: read.integer("MAX_SESSIONS", 32, 1),
    maxFrameBytes: read.integer("MAX_FRAME_BYTES", 64 * 1024 * 1024, 1024),
    maxQueuedCells: read.integer("MAX_QUEUED_CELLS", 16, 1),
    replayBufferBytes: read.integer("REPLAY_BUFFER_BYTES", 4 * 1024 * 1024, 0),
    executionTimeout: read.seconds("EXECUTION_TIMEOUT", 30),
    maxExecutionTimeout: read.seconds("MAX_EXECUTION_TIMEOUT", 300),
    idleTimeout: read.seconds("IDLE_TIMEOUT", 900),
    sessionRetention: read.seconds("SESSION_RETENTION", 86_400),
  };
  if (server.jwtSecret === null && !isLoopback(server.host)) {
    read.problems.push(
      `HOST=${JSON.stringify(server.host)} is not a loopback address: without JWT_SECRET the server uses a development secret, so it only binds 127.0.0.1, ::1 or localhost; set JWT_SECRET to serve other hosts`,
    );
  }
  const config: Config = {
    server,
    logLevel: read.oneOf("LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    cacheDir: read.string("CACHE_DIR", DEFAULT_CACHE_DIR),
    poolSize: read.integer("POOL_SIZE", 2, 0, 256),
    sandbox: {
      memoryMb: read.integer("SESSION_MEMORY_MB", 512, 64, 4096),
      jsHeapMb: read.integer("SANDBOX_JS_HEAP_MB", 256, 16, 4096),
      watchdogHeadroomMb: read.integer("MEMORY_WATCHDOG_HEADROOM_MB", 256, 32, 65536),
      maxOutputBytes: read.integer("MAX_OUTPUT_BYTES", 1024 * 1024, 0, 1024 * 1024 * 1024),
      killGraceMs: read.integer("KILL_GRACE_MS", 2000, 10, 600_000),
      bootTimeoutMs: read.integer("SANDBOX_BOOT_TIMEOUT_MS", 60_000, 1000, 600_000),
    },
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
