// Configuration: read once from the environment at start-up into a typed object.
// Every error names the variable, what it got and what it wants; all errors are reported at once.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isLoopback } from "./http/loopback.ts";
import { EnvReader, type Env } from "./env-reader.ts";
import type { RateLimits } from "./http/rate-limit.ts";
import type { AuthConfig, KeySource } from "./auth/settings.ts";
import type { TenantLimits } from "./auth/identity.ts";
import { MODEL_NAME, type LlmConfig } from "./llm/settings.ts";
import type { LogLevel } from "./log.ts";
import { findPackage, isCompiled, openRepository, withDependencies } from "./packages/lock.ts";
import { NO_PACKAGES, type PackageSettings } from "./sandbox/package-settings.ts";
import type { BufferLimits } from "./sessions/buffers.ts";
import { DEFAULT_POOL_SETTINGS, type PoolSettings } from "./sandbox/pool-settings.ts";
import type { SandboxLimits } from "./sandbox/sandbox.ts";
import { loadStoreConfig, type StoreConfig } from "./store/config.ts";

export interface ServerConfig {
  host: string;
  port: number;
  maxSessions: number;
  maxFrameBytes: number;
  maxQueuedCells: number;
  replayBufferBytes: number;
  /** Seconds. */
  executionTimeout: number;
  maxExecutionTimeout: number;
  idleTimeout: number;
  sessionRetention: number;
  maxConnectionsPerSession: number;
  /** The largest file a session's files API takes or gives, in bytes. */
  maxFileBytes: number;
  /** What clients make the server hold: uploads, queued work, unsent frames, replay buffers. */
  buffers: BufferLimits;
  /** Seconds an unfinished upload is kept without a new chunk. */
  uploadIdleTimeout: number;
  /** Seconds a tool call waits while no client that answers tools is attached. */
  toolClientTimeout: number;
  /** Frames and bytes a client (tenant and user) may send. */
  rateLimits: RateLimits;
  /** Text frames from this many bytes are parsed by a worker thread; null: the default (v1/frame-parser.ts); Infinity: never. */
  offThreadParseBytes: number | null;
}

export interface LifecycleConfig {
  /** Seconds idle before a live session is hibernated; 0 never hibernates. */
  hibernateAfter: number;
  /** Seconds a session may live at all, however busy. */
  maxSessionLifetime: number;
  /** Seconds idle after a cell before a live session is also snapshotted (kept running); 0 never. */
  checkpointAfter: number;
  /** Seconds a draining server (SIGTERM) lets running cells finish before it interrupts them. */
  drainTimeout: number;
}

export interface MetricsConfig {
  /** Serve GET /metrics on this port instead of the main one; null: on the main port. */
  port: number | null;
  /** Tenants metrics name; every other tenant is reported as "other" (labels stay bounded). */
  tenants: string[];
}

export interface Config {
  server: ServerConfig;
  auth: AuthConfig;
  store: StoreConfig;
  lifecycle: LifecycleConfig;
  tenantLimits: TenantLimits;
  logLevel: LogLevel;
  /** Whether cell_finished log lines carry the cell's code (capped); never its output. */
  logCode: boolean;
  metrics: MetricsConfig;
  llm: LlmConfig;
  /** Where the base snapshot and Deno's transpile cache live; must be writable. */
  cacheDir: string;
  poolSize: number;
  pool: PoolSettings;
  sandbox: SandboxLimits;
  /** The package repository sessions load packages from, and what the base snapshot holds. */
  packages: PackageSettings;
  /** Whether GET / serves the notebook page (page/, bundled at start-up into cacheDir). */
  page: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

const MIB = 1024 * 1024;
const DEFAULT_CACHE_DIR = fileURLToPath(new URL("../.cache", import.meta.url));

const DEFAULT_BYTE_BURST = 64 * MIB;

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const server: ServerConfig = {
    host: read.string("HOST", "127.0.0.1"),
    port: read.integer("PORT", 8000, 0, 65535),
    maxSessions: read.integer("MAX_SESSIONS", 32, 1),
    maxFrameBytes: read.integer("MAX_FRAME_BYTES", 64 * 1024 * 1024, 1024),
    maxQueuedCells: read.integer("MAX_QUEUED_CELLS", 16, 1),
    replayBufferBytes: read.integer("REPLAY_BUFFER_BYTES", 4 * 1024 * 1024, 0),
    executionTimeout: read.seconds("EXECUTION_TIMEOUT", 30),
    maxExecutionTimeout: read.seconds("MAX_EXECUTION_TIMEOUT", 300),
    idleTimeout: read.seconds("IDLE_TIMEOUT", 900),
    sessionRetention: read.seconds("SESSION_RETENTION", 86_400),
    maxConnectionsPerSession: read.integer("MAX_CONNECTIONS_PER_SESSION", 8, 1),
    maxFileBytes: read.integer("MAX_FILE_BYTES", 16 * MIB, 1, 4096 * MIB),
    buffers: {
      sessionBytes: read.integer("SESSION_BUFFER_MB", 256, 1, 1024 * 1024) * MIB,
      serverBytes: read.integer("SERVER_BUFFER_MB", 1024, 1, 1024 * 1024) * MIB,
    },
    uploadIdleTimeout: read.seconds("UPLOAD_IDLE_TIMEOUT", 60),
    toolClientTimeout: read.seconds("TOOL_CLIENT_TIMEOUT", 30),
    rateLimits: {
      // A burst is what the serving thread spends on one client before closing it: ~300 small
      // frames are a few tens of ms; one largest frame (ws copies, unmasks and checks it there) ~50 ms.
      frameRate: read.integer("FRAME_RATE", 1000, 0),
      frameBurst: read.integer("FRAME_BURST", 300, 1),
      byteRate: read.integer("BYTE_RATE_MB", 32, 0, 1024 * 1024) * MIB,
      byteBurst: read.integer("BYTE_BURST_MB", 0, 0, 1024 * 1024) * MIB,
    },
    offThreadParseBytes: readOffThreadParse(read),
  };
  const { rateLimits } = server;
  // Unset (or 0): 64 MiB (the SDK's 50 MiB add_context, in chunks whatever MAX_FRAME_BYTES), or one largest frame if more.
  if (rateLimits.byteBurst === 0) rateLimits.byteBurst = Math.max(DEFAULT_BYTE_BURST, Math.ceil(server.maxFrameBytes / MIB) * MIB);
  if (rateLimits.byteRate > 0 && rateLimits.byteBurst < server.maxFrameBytes) {
    read.problems.push(`BYTE_BURST_MB=${rateLimits.byteBurst / MIB} is below MAX_FRAME_BYTES=${server.maxFrameBytes}: the largest frame allowed would always close its connection; raise BYTE_BURST_MB or lower MAX_FRAME_BYTES`);
  }
  const auth: AuthConfig = {
    key: readKeySource(read),
    issuer: read.string("JWT_ISSUER", "") || null,
    audience: read.string("JWT_AUDIENCE", "") || null,
    clockSkew: read.integer("JWT_CLOCK_SKEW", 30, 0, 3600),
    tenantClaim: read.string("JWT_TENANT_CLAIM", "tenant"),
    allowQueryToken: read.boolean("ALLOW_QUERY_TOKEN", false),
  };
  if (auth.key.kind === "development" && !isLoopback(server.host)) {
    read.problems.push(
      `HOST=${JSON.stringify(server.host)} is not a loopback address: without JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL the server uses a development secret, so it only binds 127.0.0.1, ::1 or localhost; set one of them to serve other hosts`,
    );
  }
  const config: Config = {
    server,
    auth,
    store: loadStoreConfig(read, server.sessionRetention),
    lifecycle: {
      hibernateAfter: read.integer("HIBERNATE_AFTER", 120, 0),
      maxSessionLifetime: read.seconds("MAX_SESSION_LIFETIME", 86_400),
      checkpointAfter: read.integer("CHECKPOINT_AFTER", 0, 0),
      drainTimeout: read.seconds("DRAIN_TIMEOUT", 25),
    },
    tenantLimits: {
      maxSessions: read.integer("TENANT_MAX_SESSIONS", 10, 1),
      maxRunning: read.integer("TENANT_MAX_RUNNING", 4, 1),
      openRate: read.integer("TENANT_OPEN_RATE", 30, 1),
    },
    logLevel: read.oneOf("LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    logCode: read.boolean("LOG_CODE", false),
    metrics: {
      port: readMetricsPort(read, server.port),
      tenants: read.list("METRICS_TENANTS"),
    },
    llm: readLlm(read),
    cacheDir: read.string("CACHE_DIR", DEFAULT_CACHE_DIR),
    poolSize: read.integer("POOL_SIZE", 2, 0, 256),
    pool: {
      maxPerIdentity: read.integer("POOL_MAX_PER_IDENTITY", DEFAULT_POOL_SETTINGS.maxPerIdentity, 0, 256),
      max: read.integer("POOL_MAX", DEFAULT_POOL_SETTINGS.max, 0, 4096),
      waitTimeoutMs: read.seconds("POOL_WAIT_TIMEOUT", DEFAULT_POOL_SETTINGS.waitTimeoutMs / 1000) * 1000,
      interpretersPerProcess: read.integer("INTERPRETERS_PER_PROCESS", DEFAULT_POOL_SETTINGS.interpretersPerProcess, 1, 256),
      recycleAfter: read.integer("PROCESS_RECYCLE_AFTER", DEFAULT_POOL_SETTINGS.recycleAfter, 1, 1_000_000),
      idleIdentityMs: read.seconds("POOL_IDLE_IDENTITY", DEFAULT_POOL_SETTINGS.idleIdentityMs / 1000) * 1000,
    },
    sandbox: {
      memoryMb: read.integer("SESSION_MEMORY_MB", 512, 64, 4096),
      jsHeapMb: read.integer("SANDBOX_JS_HEAP_MB", 256, 16, 4096),
      watchdogHeadroomMb: read.integer("MEMORY_WATCHDOG_HEADROOM_MB", 256, 32, 65536),
      maxOutputBytes: read.integer("MAX_OUTPUT_BYTES", 1024 * 1024, 0, 1024 * 1024 * 1024),
      killGraceMs: read.integer("KILL_GRACE_MS", 2000, 10, 600_000),
      bootTimeoutMs: read.integer("SANDBOX_BOOT_TIMEOUT_MS", 60_000, 1000, 600_000),
      callTimeoutMs: read.integer("SANDBOX_CALL_TIMEOUT_MS", 10_000, 100, 600_000),
      maxWheelBytes: read.integer("PACKAGE_MAX_WHEEL_MB", 32, 1, 1024) * MIB,
    },
    packages: readPackages(read),
    page: read.boolean("PAGE", true),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

const require = createRequire(import.meta.url);

/** PYODIDE_PACKAGES_DIR and PRELOAD_PACKAGES: a repository Pyodide can load, and packages of it a snapshot can hold. */
function readPackages(read: EnvReader): PackageSettings {
  const dir = read.string("PYODIDE_PACKAGES_DIR", "");
  const preload = read.list("PRELOAD_PACKAGES");
  if (!dir) {
    if (preload.length > 0) read.problems.push("PRELOAD_PACKAGES is set without PYODIDE_PACKAGES_DIR: the packages are loaded from a repository (npm run packages builds one)");
    return NO_PACKAGES;
  }
  let repository;
  try {
    repository = openRepository(resolve(dir));
  } catch (error) {
    read.problems.push(`PYODIDE_PACKAGES_DIR=${JSON.stringify(dir)}: ${(error as Error).message}`);
    return NO_PACKAGES;
  }
  const { info } = require("pyodide/pyodide-lock.json") as { info: { abi_version: string } };
  if (repository.lock.info.abi_version !== info.abi_version) {
    read.problems.push(`PYODIDE_PACKAGES_DIR=${JSON.stringify(dir)}: its lock file is for Pyodide's ABI ${repository.lock.info.abi_version}, this server's Pyodide has ${info.abi_version}: build the repository from the matching release`);
  }
  const keys: string[] = [];
  for (const name of preload) {
    const entry = findPackage(repository.lock, name);
    if (!entry) {
      read.problems.push(`PRELOAD_PACKAGES: the repository (PYODIDE_PACKAGES_DIR) has no package ${JSON.stringify(name)}`);
      continue;
    }
    const compiled = withDependencies(repository.lock, [entry.name]).filter(isCompiled).map((dependency) => dependency.name);
    if (compiled.length > 0) {
      read.problems.push(`PRELOAD_PACKAGES: ${name} has compiled code (${compiled.join(", ")}), which a memory snapshot cannot keep; leave it out: it loads when a cell imports it`);
      continue;
    }
    keys.push(Object.keys(repository.lock.packages).find((key) => repository.lock.packages[key] === entry)!);
  }
  return { dir: repository.dir, preload: keys.sort(), digest: repository.digest };
}

/** PARSE_OFF_THREAD_KB: unset is the default threshold, 0 parses every frame on the serving thread. */
function readOffThreadParse(read: EnvReader): number | null {
  if (read.string("PARSE_OFF_THREAD_KB", "") === "") return null;
  const kib = read.integer("PARSE_OFF_THREAD_KB", 0, 0, 1024 * 1024);
  return kib === 0 ? Infinity : kib * 1024;
}

function readMetricsPort(read: EnvReader, mainPort: number): number | null {
  if (read.string("METRICS_PORT", "") === "") return null;
  const port = read.integer("METRICS_PORT", 0, 0, 65535);
  if (port !== 0 && port === mainPort) read.problems.push(`METRICS_PORT=${port} is also PORT: unset METRICS_PORT to serve /metrics on the main port, or choose another`);
  return port;
}

function readLlm(read: EnvReader): LlmConfig {
  const inline = read.string("LLM_API_KEY", "");
  const fromFile = read.fileContents("LLM_API_KEY_FILE");
  if (inline && read.string("LLM_API_KEY_FILE", "")) read.problems.push("LLM_API_KEY and LLM_API_KEY_FILE are both set: set one");
  const modelName = (name: string, fallback: string) => {
    const model = read.string(name, fallback);
    if (model && !MODEL_NAME.test(model)) read.problems.push(`${name}=${JSON.stringify(model)}: expected a model name (letters, digits, . : / @ _ -)`);
    return model;
  };
  return {
    apiKey: inline || fromFile,
    baseUrl: read.url("LLM_BASE_URL", "https://api.openai.com/v1"),
    model: modelName("LLM_MODEL", "gpt-5-mini"),
    subModel: modelName("LLM_SUB_MODEL", "") || null,
    maxDepth: read.integer("MAX_DEPTH", 2, 1, 10),
    maxConcurrency: read.integer("LLM_MAX_CONCURRENCY", 8, 1, 256),
    maxCalls: read.integer("LLM_MAX_CALLS", 1000, 1),
    maxTokens: read.integer("LLM_MAX_TOKENS", 2_000_000, 1),
    timeout: read.seconds("LLM_TIMEOUT", 120),
    maxChildren: read.integer("RLM_MAX_CONCURRENT_CHILDREN", 4, 1, 64),
    maxIterations: read.integer("RLM_MAX_ITERATIONS", 30, 1, 1000),
    maxOutputChars: read.integer("RLM_MAX_OUTPUT_CHARS", 20_000, 100),
  };
}

/** What a model name may look like: LLM_MODEL, LLM_SUB_MODEL, and the `model` Python passes. */

const MIN_SECRET_BYTES = 32;

function readKeySource(read: EnvReader): KeySource {
  const secret = read.string("JWT_SECRET", "");
  const pem = read.string("JWT_PUBLIC_KEY", "");
  const url = read.string("JWT_JWKS_URL", "");
  const set = [secret && "JWT_SECRET", pem && "JWT_PUBLIC_KEY", url && "JWT_JWKS_URL"].filter(Boolean);
  if (set.length > 1) {
    read.problems.push(`${set.join(" and ")} are all set: set exactly one way of verifying tokens`);
    return { kind: "development" };
  }
  if (secret) {
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      read.problems.push(`JWT_SECRET is ${Buffer.byteLength(secret)} bytes: an HS256 secret needs at least ${MIN_SECRET_BYTES} (try \`openssl rand -hex 32\`)`);
    }
    return { kind: "secret", secret };
  }
  if (pem) {
    // Environment variables often carry PEM with its newlines escaped.
    const text = pem.replace(/\\n/g, "\n");
    if (!/-----BEGIN PUBLIC KEY-----/.test(text)) read.problems.push("JWT_PUBLIC_KEY: expected a PEM public key (-----BEGIN PUBLIC KEY-----)");
    return { kind: "public_key", pem: text };
  }
  if (url) {
    if (!/^https?:\/\//.test(url)) read.problems.push(`JWT_JWKS_URL=${JSON.stringify(url)}: expected an http(s) URL`);
    // An unknown key id refetches the JWKS (key rotation) at most once per cooldown.
    return { kind: "jwks", url, refetchCooldownMs: read.seconds("JWT_JWKS_REFETCH_COOLDOWN", 30) * 1000 };
  }
  return { kind: "development" };
}
