// The store's part of the configuration: where session records and snapshots live, and how this
// pod names and announces itself. Read with the server's EnvReader, so its problems are reported
// with the rest; REDIS_URL is never echoed, since it may hold a password.
import { hostname } from "node:os";
import type { EnvReader } from "../env-reader.ts";

export interface StoreConfig {
  /** Null: records live in this process (a single server). */
  redisUrl: string | null;
  keyPrefix: string;
  /** Null: snapshots go to Redis (or stay in memory without Redis). */
  snapshotDir: string | null;
  /** A larger snapshot is not taken (the session stays live). */
  snapshotMaxMb: number;
  podName: string;
  /** host:port other pods reach this one at; null when not configured (the server knows its port). */
  podAddress: string | null;
  heartbeatTtlMs: number;
  /** REDIS_COMMAND_TIMEOUT: a record command without a reply this long counts as Redis unreachable. */
  commandTimeoutMs: number;
  /** How long an ended session's record is kept. */
  retentionMs: number;
}

/** The largest value Redis accepts by default (proto-max-bulk-len). */
const REDIS_MAX_VALUE_MB = 512;

/** SESSION_RETENTION is read by the server's configuration; it is passed in rather than read twice. */
export function loadStoreConfig(read: EnvReader, sessionRetentionSeconds: number): StoreConfig {
  const redisUrl = readRedisUrl(read);
  const snapshotDir = read.string("SNAPSHOT_DIR", "") || null;
  const snapshotMaxMb = read.integer("SNAPSHOT_MAX_MB", 256, 1);
  if (redisUrl !== null && snapshotDir === null && snapshotMaxMb > REDIS_MAX_VALUE_MB) {
    read.problems.push(
      `SNAPSHOT_MAX_MB=${snapshotMaxMb}: without SNAPSHOT_DIR snapshots go to Redis, which stores values of at most ${REDIS_MAX_VALUE_MB} MB; lower it or set SNAPSHOT_DIR`,
    );
  }
  return {
    redisUrl,
    keyPrefix: read.string("REDIS_KEY_PREFIX", "wasm-repl:"),
    snapshotDir,
    snapshotMaxMb,
    podName: read.string("POD_NAME", hostname()),
    podAddress: readPodAddress(read),
    heartbeatTtlMs: read.seconds("POD_HEARTBEAT_TTL", 15) * 1000,
    commandTimeoutMs: read.seconds("REDIS_COMMAND_TIMEOUT", 1) * 1000,
    retentionMs: sessionRetentionSeconds * 1000,
  };
}

function readRedisUrl(read: EnvReader): string | null {
  const raw = read.string("REDIS_URL", "");
  if (raw === "") return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // Reported below.
  }
  if (!url || (url.protocol !== "redis:" && url.protocol !== "rediss:") || url.hostname === "" || !/^(\/\d*)?$/.test(url.pathname)) {
    read.problems.push("REDIS_URL (not shown, it may hold a password): expected redis://[[user]:password@]host[:port][/db], or rediss:// for TLS");
    return null;
  }
  return raw;
}

function readPodAddress(read: EnvReader): string | null {
  const raw = read.string("POD_ADDRESS", "");
  if (raw === "") return null;
  if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):\d{1,5}$/.test(raw)) {
    read.problems.push(`POD_ADDRESS=${JSON.stringify(raw)}: expected host:port, the address other pods reach this one at`);
    return null;
  }
  return raw;
}
