// Redis stores for tests: each run writes under a key prefix of its own and deletes its keys after.
import { Redis } from "ioredis";
import type { Clock } from "../../server/clock.ts";
import { systemClock } from "../../server/clock.ts";
import { silentLogger } from "../../server/log.ts";
import { RedisConnection, type RedisConnectionOptions } from "../../server/store/redis-connection.ts";
import { RedisStore } from "../../server/store/redis.ts";

/** The Redis the contract tests run against. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function uniqueKeyPrefix(): string {
  return `wasm-repl-test:${process.pid}:${Date.now()}:`;
}

/** A connection that is ready, or an error saying which Redis the test needs. */
export async function connectTestRedis(url: string, options: Partial<RedisConnectionOptions> = {}): Promise<RedisConnection> {
  const connection = new RedisConnection({ url, name: "test", log: silentLogger, ...options });
  if (!(await connection.ready(2000))) {
    await connection.close();
    throw new Error(`these tests need a Redis at ${url} (set TEST_REDIS_URL to use another)`);
  }
  return connection;
}

export async function openRedisStore(url: string, keyPrefix: string, clock: Clock = systemClock, options: Partial<RedisConnectionOptions> = {}): Promise<RedisStore> {
  return new RedisStore(await connectTestRedis(url, options), keyPrefix, clock);
}

/** Deletes every key under the prefix. */
export async function deleteKeys(url: string, keyPrefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    for await (const keys of client.scanStream({ match: `${keyPrefix}*`, count: 500 })) {
      if ((keys as string[]).length > 0) await client.del(...(keys as string[]));
    }
  } finally {
    client.disconnect();
  }
}
