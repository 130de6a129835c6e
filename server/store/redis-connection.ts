// One ioredis connection configured to fail fast: while Redis cannot be reached, commands are
// refused at once (no offline queue, no resending) instead of waiting, and surface as
// StoreUnavailable naming REDIS_URL's host, never its password. It reconnects forever in the
// background with a capped backoff; callers decide what to do meanwhile.
import { Redis, ReplyError } from "ioredis";
import type { Logger } from "../log.ts";
import { StoreUnavailable } from "./store.ts";

export interface RedisConnectionOptions {
  /** redis:// or rediss://, with a password if the server wants one. */
  url: string;
  /** Names the connection in Redis's CLIENT LIST and in logs. */
  name: string;
  log: Logger;
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails (and counts as Redis unreachable). */
  commandTimeoutMs?: number;
  /** The longest wait between two reconnection attempts. */
  reconnectMaxDelayMs?: number;
}

/** Replies that mean "not now" rather than "wrong": the server is loading, busy, full, or failing over. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS|OOM)\b/;

export class RedisConnection {
  readonly client: Redis;
  /** host:port of the URL, for messages. */
  readonly address: string;
  /** Null until the first connection succeeds or fails; logs report changes only, not every retry. */
  private reachable: boolean | null = null;

  constructor(options: RedisConnectionOptions) {
    this.address = redisAddress(options.url);
    const reconnectMaxDelayMs = options.reconnectMaxDelayMs ?? 2000;
    this.client = new Redis(options.url, {
      connectionName: `wasm-repl:${options.name}`,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail at once rather than being resent later.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, reconnectMaxDelayMs),
      // After a failover the old primary answers READONLY: reconnecting finds the new one (through DNS).
      reconnectOnError: (error) => error.message.startsWith("READONLY"),
    });
    const log = options.log.child({ redis: this.address, connection: options.name });
    this.client.on("ready", () => {
      if (this.reachable === false) log.info("redis_reachable");
      this.reachable = true;
    });
    // Without a listener ioredis prints every failed reconnection; one line per outage is enough.
    this.client.on("error", (error: Error) => {
      if (this.reachable !== false) log.warn("redis_unreachable", { error: error.message });
      this.reachable = false;
    });
  }

  /** Runs commands, turning a failure to reach Redis into StoreUnavailable; Redis's own error replies pass through. */
  async run<T>(commands: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await commands(this.client);
    } catch (error) {
      if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message)) throw error;
      const cause = error instanceof Error ? error.message : String(error);
      throw new StoreUnavailable(`Redis is unreachable at ${this.address} (REDIS_URL): ${cause}`, { cause: error });
    }
  }

  /** Waits for the connection to be usable; false when it is not within the time. */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.client.status === "ready") return true;
    return new Promise((resolve) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.client.off("ready", onReady);
        resolve(false);
      }, timeoutMs);
      this.client.once("ready", onReady);
    });
  }

  async close(): Promise<void> {
    if (this.client.status !== "ready") return this.client.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** host:port of a Redis URL: what messages may show of it. */
export function redisAddress(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port || "6379"}`;
}
