// Turns the store configuration into stores: in memory without REDIS_URL; with it, Redis behind
// the QueueingStore that rides out outages; snapshots in SNAPSHOT_DIR when set.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { StoreConfig } from "./config.ts";
import { DirectorySnapshotStore } from "./directory.ts";
import { MemorySnapshotStore, MemoryStore } from "./memory.ts";
import { RedisConnection } from "./redis-connection.ts";
import { RedisSnapshotStore, RedisStore } from "./redis.ts";
import { QueueingStore } from "./resilient.ts";
import type { SessionStore, SnapshotStore } from "./store.ts";

export interface Stores {
  sessions: SessionStore;
  /** The same object as `sessions` when it queues writes through Redis outages (null in memory): for readiness, metrics and events. */
  queueing: QueueingStore | null;
  snapshots: SnapshotStore;
  close(): Promise<void>;
}

/** How long start-up waits for Redis before serving anyway (opening sessions then fails fast until it answers). */
const FIRST_CONNECTION_WAIT_MS = 3000;

/** A snapshot transfer may take this long per MB (10 MB/s) on top of a fixed allowance. */
const SNAPSHOT_MS_PER_MB = 100;
const SNAPSHOT_BASE_MS = 5000;

export async function createStores(config: StoreConfig, clock: Clock, log: Logger): Promise<Stores> {
  const { snapshots, connection: snapshotConnection } = openSnapshotStore(config, log);
  if (config.redisUrl === null) return { sessions: new MemoryStore(clock), queueing: null, snapshots, close: async () => {} };
  const records = new RedisConnection({ url: config.redisUrl, name: `${config.podName}/records`, log, commandTimeoutMs: config.commandTimeoutMs });
  const [ready] = await Promise.all([records.ready(FIRST_CONNECTION_WAIT_MS), snapshotConnection?.ready(FIRST_CONNECTION_WAIT_MS)]);
  if (!ready) log.warn("store_not_ready", { redis: records.address, detail: "serving anyway: opening a session answers store_unavailable until Redis answers" });
  const sessions = new QueueingStore(new RedisStore(records, config.keyPrefix, clock), { clock, log, rememberMs: config.retentionMs });
  return {
    sessions,
    queueing: sessions,
    snapshots,
    close: async () => {
      await sessions.close();
      await snapshotConnection?.close();
    },
  };
}

/** SNAPSHOT_DIR when set, else Redis when there is one, else memory. */
function openSnapshotStore(config: StoreConfig, log: Logger): { snapshots: SnapshotStore; connection: RedisConnection | null } {
  if (config.snapshotDir !== null) return { snapshots: new DirectorySnapshotStore(config.snapshotDir), connection: null };
  if (config.redisUrl === null) return { snapshots: new MemorySnapshotStore(), connection: null };
  // A connection of its own, with time for the largest transfer: it must not hold up record commands.
  const connection = new RedisConnection({
    url: config.redisUrl,
    name: `${config.podName}/snapshots`,
    log,
    commandTimeoutMs: SNAPSHOT_BASE_MS + config.snapshotMaxMb * SNAPSHOT_MS_PER_MB,
  });
  return { snapshots: new RedisSnapshotStore(connection, config.keyPrefix), connection };
}
