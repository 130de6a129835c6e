import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

test("MAX_FILE_BYTES is 16 MiB unless set; a bad value is reported by name", () => {
  assert.equal(loadConfig({}).server.maxFileBytes, 16 * 1024 * 1024);
  assert.equal(loadConfig({ MAX_FILE_BYTES: "1000" }).server.maxFileBytes, 1000);
  assert.throws(() => loadConfig({ MAX_FILE_BYTES: "0" }), /MAX_FILE_BYTES="0": expected a whole number from 1/);
  assert.throws(() => loadConfig({ MAX_FILE_BYTES: "16MB" }), /MAX_FILE_BYTES="16MB": expected a whole number/);
});

test("PAGE serves the notebook page unless false; a bad value is reported by name", () => {
  assert.equal(loadConfig({}).page, true);
  assert.equal(loadConfig({ PAGE: "false" }).page, false);
  assert.throws(() => loadConfig({ PAGE: "off" }), /PAGE="off": expected true or false/);
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

test("the original guide's variables have its defaults; metrics and LOG_CODE default off", () => {
  const config = loadConfig({});
  assert.deepEqual(config.llm, {
    apiKey: null,
    baseUrl: "https://api.openai.com/v1",
    model: "gpt-5-mini",
    subModel: null,
    maxDepth: 2,
    maxConcurrency: 8,
    maxCalls: 1000,
    maxTokens: 2_000_000,
    timeout: 120,
    maxChildren: 4,
    maxIterations: 30,
    maxOutputChars: 20_000,
  });
  assert.equal(config.server.executionTimeout, 30);
  assert.deepEqual(config.metrics, { port: null, tenants: [] });
  assert.equal(config.logCode, false);
});

test("LLM, metrics and LOG_CODE variables are read", () => {
  const config = loadConfig({
    LLM_API_KEY: "sk-test-123",
    LLM_BASE_URL: "http://llm.internal:8080/v1",
    LLM_MODEL: "gpt-4.1-mini",
    LLM_SUB_MODEL: "gpt-4.1-nano",
    MAX_DEPTH: "5",
    LLM_MAX_CONCURRENCY: "3",
    LLM_MAX_CALLS: "40",
    LLM_MAX_TOKENS: "90000",
    LLM_TIMEOUT: "2.5",
    RLM_MAX_CONCURRENT_CHILDREN: "2",
    RLM_MAX_ITERATIONS: "12",
    RLM_MAX_OUTPUT_CHARS: "5000",
    METRICS_PORT: "9100",
    METRICS_TENANTS: " acme, initech,,acme ",
    LOG_CODE: "true",
  });
  assert.deepEqual(config.llm, {
    apiKey: "sk-test-123",
    baseUrl: "http://llm.internal:8080/v1",
    model: "gpt-4.1-mini",
    subModel: "gpt-4.1-nano",
    maxDepth: 5,
    maxConcurrency: 3,
    maxCalls: 40,
    maxTokens: 90_000,
    timeout: 2.5,
    maxChildren: 2,
    maxIterations: 12,
    maxOutputChars: 5000,
  });
  assert.deepEqual(config.metrics, { port: 9100, tenants: ["acme", "initech"] });
  assert.equal(config.logCode, true);
});

test("LLM_API_KEY_FILE is read at start-up, trimmed; its contents never reach an error", () => {
  const directory = mkdtempSync(join(tmpdir(), "wasm-repl-config-"));
  try {
    const file = join(directory, "api-key");
    writeFileSync(file, "sk-from-file-456\n");
    assert.equal(loadConfig({ LLM_API_KEY_FILE: file }).llm.apiKey, "sk-from-file-456");
    assert.throws(() => loadConfig({ LLM_API_KEY_FILE: join(directory, "missing") }), /LLM_API_KEY_FILE=".*missing": cannot read the file \(ENOENT\)/);
    writeFileSync(file, "  \n");
    assert.throws(() => loadConfig({ LLM_API_KEY_FILE: file }), /LLM_API_KEY_FILE=".*": the file is empty/);
    writeFileSync(file, "sk-from-file-456\n");
    assert.throws(
      () => loadConfig({ LLM_API_KEY_FILE: file, LLM_API_KEY: "sk-inline", LLM_BASE_URL: "ftp://x" }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /LLM_API_KEY and LLM_API_KEY_FILE are both set/);
        assert.ok(!error.message.includes("sk-from-file-456") && !error.message.includes("sk-inline"), "a key is in the message");
        return true;
      },
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("bad LLM, metrics and LOG_CODE values are reported by name", () => {
  assert.throws(
    () => loadConfig({ LLM_BASE_URL: "api.openai.com/v1", MAX_DEPTH: "0", LLM_MODEL: "gpt 5", METRICS_PORT: "ninety", LOG_CODE: "yes" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 5);
      assert.match(error.message, /LLM_BASE_URL="api.openai.com\/v1": expected an http\(s\) URL/);
      assert.match(error.message, /MAX_DEPTH="0": expected a whole number from 1/);
      assert.match(error.message, /LLM_MODEL="gpt 5": expected a model name/);
      assert.match(error.message, /METRICS_PORT="ninety": expected a whole number from 0 to 65535/);
      assert.match(error.message, /LOG_CODE="yes": expected true or false/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ MAX_DEPTH: "2.5" }), /MAX_DEPTH="2.5"/);
  assert.throws(() => loadConfig({ LLM_BASE_URL: "ftp://llm.example/v1" }), /LLM_BASE_URL="ftp:\/\/llm.example\/v1": expected an http\(s\) URL/);
  assert.throws(() => loadConfig({ PORT: "9000", METRICS_PORT: "9000" }), /METRICS_PORT=9000 is also PORT/);
  assert.equal(loadConfig({ METRICS_PORT: "0" }).metrics.port, 0, "0: any free port");
});
