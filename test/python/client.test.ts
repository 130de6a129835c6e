// The Python client (client/python) against a real server: pytest runs its tests with the server's
// URL and tokens in the environment, the local OpenAI-compatible server answering llm_query. Also
// checks that the package installs with pip and imports from where it was installed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promptOf, startScriptedLlm, type Reply } from "../helpers/scripted-llm.ts";
import { startTestServer } from "../helpers/server.ts";

/** Debian's Python, which has pytest and websockets (not whatever python3 comes first on PATH). */
const PYTHON = "/usr/bin/python3";
const ROOT = join(import.meta.dirname, "../..");
const PACKAGE = join(ROOT, "client/python");
const RUN_TIMEOUT_MS = 15 * 60_000;

// llm_query's model: "hold:KEY" waits until some request says "release:KEY" (the tests hold a
// cell in its model call for as long as they need it running); anything else is echoed.
const holds = new Map<string, { released: Promise<void>; release: () => void }>();
function hold(key: string) {
  let entry = holds.get(key);
  if (!entry) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    entry = { released, release };
    holds.set(key, entry);
  }
  return entry;
}
const llm = await startScriptedLlm(async (request): Promise<Reply> => {
  const prompt = promptOf(request);
  if (prompt.startsWith("hold:")) {
    await hold(prompt.slice(5)).released;
    return `released ${prompt.slice(5)}`;
  }
  if (prompt.startsWith("release:")) {
    hold(prompt.slice(8)).release();
    return "ok";
  }
  return `echo: ${prompt}`;
});
after(() => {
  for (const entry of holds.values()) entry.release();
});

const server = await startTestServer({
  POOL_SIZE: "2",
  LLM_API_KEY: "sk-test-python-client",
  LLM_BASE_URL: llm.url,
  LLM_MODEL: "root-model",
  TENANT_MAX_SESSIONS: "64",
  TENANT_OPEN_RATE: "1000",
  // Small enough that the tests' large add_context goes in chunks.
  MAX_FRAME_BYTES: String(256 * 1024),
});

interface Run {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Ended if it ever hangs (a cell nobody interrupts), so that the failure shows what ran.
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: RUN_TIMEOUT_MS });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, output: signal ? `${output}\n(ended by ${signal} after ${RUN_TIMEOUT_MS / 60_000} minutes)` : output }));
  });
}

test("the Python client's tests pass against a real server", async (t) => {
  const env = {
    WASM_REPL_URL: server.url,
    WASM_REPL_TOKEN: await server.token(),
    WASM_REPL_TEST_READ_ONLY_TOKEN: await server.token({ scopes: ["sessions:read"] }),
    WASM_REPL_TEST_LIMITED_TOKEN: await server.token({ user: "limited", tenant: "limited", limits: { max_sessions: 1 } }),
    WASM_REPL_TEST_LLM_URL: llm.url,
    PYTHONDONTWRITEBYTECODE: "1",
  };
  const { code, output } = await run(PYTHON, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "client/python/tests"], env);
  assert.equal(code, 0, `pytest failed:\n${output}`);
  assert.match(output, /\d+ passed/, output);
  t.diagnostic(output.trim().split("\n").at(-1)!); // pytest's summary, in the test runner's report
});

test("pip installs the package, and it imports from where it was installed", async () => {
  const scratch = mkdtempSync(join(tmpdir(), "wasm-repl-pip-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  // Built from a copy of the sources: a build leaves build/ and *.egg-info beside them.
  const sources = join(scratch, "src");
  cpSync(PACKAGE, sources, { recursive: true, filter: (path) => !/__pycache__|[/\\]tests$/.test(path) });
  const target = join(scratch, "site");
  const install = await run(PYTHON, ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", "--target", target, sources], { PIP_NO_CACHE_DIR: "1" }, scratch);
  assert.equal(install.code, 0, `pip install failed:\n${install.output}`);
  assert.ok(existsSync(join(target, "wasm_repl", "py.typed")), "py.typed is installed");
  const check = "import wasm_repl, wasm_repl.rlm_env; print(wasm_repl.__file__); print(wasm_repl.Session.__name__, wasm_repl.WASMREPLEnv.__name__)";
  const imported = await run(PYTHON, ["-c", check], { PYTHONPATH: target }, tmpdir());
  assert.equal(imported.code, 0, imported.output);
  assert.ok(imported.output.startsWith(join(target, "wasm_repl", "__init__.py")), imported.output);
  assert.match(imported.output, /Session WASMREPLEnv/);
});
