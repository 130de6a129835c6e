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

test("a JWT_SECRET shorter than 32 bytes is refused, and so is more than one key source", () => {
  assert.throws(() => loadConfig({ JWT_SECRET: "short" }), /JWT_SECRET is 5 bytes: an HS256 secret needs at least 32/);
  assert.throws(() => loadConfig({ JWT_SECRET: "x".repeat(32), JWT_JWKS_URL: "https://idp.example/jwks" }), /JWT_SECRET and JWT_JWKS_URL are all set: set exactly one/);
  assert.throws(() => loadConfig({ JWT_PUBLIC_KEY: "not a pem" }), /JWT_PUBLIC_KEY: expected a PEM public key/);
});

test("PEM with escaped newlines is accepted", () => {
  const config = loadConfig({ JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----" });
  assert.deepEqual(config.auth.key, { kind: "public_key", pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" });
});
