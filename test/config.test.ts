import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../server/config.ts";

test("defaults need no environment", () => {
  const config = loadConfig({});
  assert.equal(config.poolSize, 2);
  assert.equal(config.sandbox.memoryMb, 512);
  assert.equal(config.sandbox.maxOutputBytes, 1024 * 1024);
});

test("every bad variable is reported by name at once", () => {
  assert.throws(
    () => loadConfig({ POOL_SIZE: "two", SESSION_MEMORY_MB: "8", LOG_LEVEL: "loud" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 3);
      assert.match(error.message, /POOL_SIZE="two": expected a whole number/);
      assert.match(error.message, /SESSION_MEMORY_MB="8": expected a whole number from 64/);
      assert.match(error.message, /LOG_LEVEL="loud": expected one of debug, info, warn, error/);
      return true;
    },
  );
});
