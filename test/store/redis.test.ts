import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { systemClock } from "../../server/clock.ts";
import { silentLogger } from "../../server/log.ts";
import { RedisConnection } from "../../server/store/redis-connection.ts";
import { RedisSnapshotStore, RedisStore } from "../../server/store/redis.ts";
import { StoreUnavailable } from "../../server/store/store.ts";
import { freePort } from "../helpers/redis-server.ts";
import { connectTestRedis, deleteKeys, openRedisStore, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { newRecord, sessionStoreContract, snapshotStoreContract } from "./contract.ts";

describe("RedisStore", () => {
  sessionStoreContract(async () => {
    const keyPrefix = uniqueKeyPrefix();
    const store = await openRedisStore(TEST_REDIS_URL, keyPrefix);
    return {
      store,
      elapse: (ms) => sleep(ms),
      close: async () => {
        await store.close();
        await deleteKeys(TEST_REDIS_URL, keyPrefix);
      },
    };
  });
});

describe("RedisSnapshotStore", () => {
  snapshotStoreContract(async () => {
    const keyPrefix = uniqueKeyPrefix();
    const connection = await connectTestRedis(TEST_REDIS_URL);
    return {
      snapshots: new RedisSnapshotStore(connection, keyPrefix),
      close: async () => {
        await connection.close();
        await deleteKeys(TEST_REDIS_URL, keyPrefix);
      },
    };
  });
});

test("an unreachable Redis fails fast with StoreUnavailable naming its host, never its password", async () => {
  const port = await freePort();
  const connection = new RedisConnection({ url: `redis://:hunter2-secret@127.0.0.1:${port}/0`, name: "test", log: silentLogger });
  const store = new RedisStore(connection, uniqueKeyPrefix(), systemClock);
  try {
    assert.equal(await connection.ready(200), false);
    for (const attempt of [() => store.get("any"), () => store.create(newRecord()), () => store.heartbeat("pod", "a:1", 1000)]) {
      const started = performance.now();
      await assert.rejects(attempt, (error: unknown) => {
        assert.ok(error instanceof StoreUnavailable);
        assert.match(error.message, new RegExp(`Redis is unreachable at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`));
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
      assert.ok(performance.now() - started < 100, "refused at once, not after a timeout");
    }
  } finally {
    await store.close();
  }
});

