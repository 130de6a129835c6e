import assert from "node:assert/strict";
import { hostname } from "node:os";
import { test } from "node:test";
import { EnvReader } from "../../server/env-reader.ts";
import { loadStoreConfig } from "../../server/store/config.ts";

function load(env: Record<string, string>) {
  const read = new EnvReader(env);
  return { config: loadStoreConfig(read, 3600), problems: read.problems };
}

test("defaults: sessions and snapshots in memory, the pod named after the host", () => {
  assert.deepEqual(load({}), {
    config: {
      redisUrl: null,
      keyPrefix: "wasm-repl:",
      snapshotDir: null,
      snapshotMaxMb: 256,
      podName: hostname(),
      podAddress: null,
      heartbeatTtlMs: 15_000,
      commandTimeoutMs: 1000,
      retentionMs: 3_600_000,
    },
    problems: [],
  });
});

test("every store variable is read", () => {
  const { config, problems } = load({
    REDIS_URL: "rediss://default:s3cret@redis.internal:6380/2",
    REDIS_KEY_PREFIX: "staging:",
    SNAPSHOT_DIR: "/var/lib/wasm-repl/snapshots",
    SNAPSHOT_MAX_MB: "1024",
    POD_NAME: "wasm-repl-0",
    POD_ADDRESS: "10.1.2.3:8000",
    POD_HEARTBEAT_TTL: "2.5",
    REDIS_COMMAND_TIMEOUT: "4",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(config, {
    redisUrl: "rediss://default:s3cret@redis.internal:6380/2",
    keyPrefix: "staging:",
    snapshotDir: "/var/lib/wasm-repl/snapshots",
    snapshotMaxMb: 1024,
    podName: "wasm-repl-0",
    podAddress: "10.1.2.3:8000",
    heartbeatTtlMs: 2500,
    commandTimeoutMs: 4000,
    retentionMs: 3_600_000,
  });
});

test("bad values are reported by name, and REDIS_URL is never echoed", () => {
  const { problems } = load({ REDIS_URL: "http://:s3cret@redis:6379", POD_ADDRESS: "10.1.2.3", POD_HEARTBEAT_TTL: "0", SNAPSHOT_MAX_MB: "lots" });
  assert.equal(problems.length, 4);
  assert.match(problems[0]!, /^REDIS_URL \(not shown, it may hold a password\): expected redis:\/\//);
  assert.ok(!problems.some((problem) => problem.includes("s3cret")));
  assert.match(problems.join("\n"), /SNAPSHOT_MAX_MB="lots": expected a whole number/);
  assert.match(problems.join("\n"), /POD_ADDRESS="10.1.2.3": expected host:port/);
  assert.match(problems.join("\n"), /POD_HEARTBEAT_TTL="0": expected a positive number of seconds/);
});

test("snapshots bound for Redis may not exceed what Redis stores in one value", () => {
  assert.match(load({ REDIS_URL: "redis://redis:6379", SNAPSHOT_MAX_MB: "1024" }).problems.join(), /SNAPSHOT_MAX_MB=1024: without SNAPSHOT_DIR snapshots go to Redis, which stores values of at most 512 MB/);
  assert.deepEqual(load({ REDIS_URL: "redis://redis:6379", SNAPSHOT_MAX_MB: "512" }).problems, []);
});
