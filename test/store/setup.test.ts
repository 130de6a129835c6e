import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../server/clock.ts";
import { EnvReader } from "../../server/env-reader.ts";
import { silentLogger } from "../../server/log.ts";
import { loadStoreConfig } from "../../server/store/config.ts";
import { DirectorySnapshotStore } from "../../server/store/directory.ts";
import { MemorySnapshotStore, MemoryStore } from "../../server/store/memory.ts";
import { RedisSnapshotStore } from "../../server/store/redis.ts";
import { QueueingStore } from "../../server/store/resilient.ts";
import { createStores } from "../../server/store/setup.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { newRecord } from "./contract.ts";

function configFrom(env: Record<string, string>) {
  return loadStoreConfig(new EnvReader(env), 86_400);
}

test("without REDIS_URL everything stays in memory, or snapshots go to SNAPSHOT_DIR", async () => {
  const stores = await createStores(configFrom({}), systemClock, silentLogger);
  assert.ok(stores.sessions instanceof MemoryStore);
  assert.equal(stores.queueing, null);
  assert.ok(stores.snapshots instanceof MemorySnapshotStore);
  await stores.close();
  const directory = await mkdtemp(join(tmpdir(), "wasm-repl-setup-"));
  const withDirectory = await createStores(configFrom({ SNAPSHOT_DIR: directory }), systemClock, silentLogger);
  assert.ok(withDirectory.snapshots instanceof DirectorySnapshotStore);
  await withDirectory.close();
  await rm(directory, { recursive: true });
});

test("with REDIS_URL, records go through the queueing store and snapshots to Redis", async () => {
  const keyPrefix = uniqueKeyPrefix();
  const stores = await createStores(configFrom({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix }), systemClock, silentLogger);
  try {
    assert.ok(stores.sessions instanceof QueueingStore);
    assert.equal(stores.queueing, stores.sessions);
    assert.ok(stores.snapshots instanceof RedisSnapshotStore);
    const record = newRecord();
    assert.equal(await stores.sessions.create(record), true, "usable as soon as created");
    await stores.snapshots.put("key", new Uint8Array([1, 2]));
    assert.deepEqual(new Uint8Array((await stores.snapshots.get("key"))!), new Uint8Array([1, 2]));
  } finally {
    await stores.close();
    await deleteKeys(TEST_REDIS_URL, keyPrefix);
  }
});
