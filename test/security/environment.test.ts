// The server's environment (where its secrets live) must not reach the sandbox, and the sandbox
// process must run with the deny-by-default flags of launch.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertContained,
  assertGlobalNotCaught,
  assertObtainedOnly,
  assertRaises,
  assertRefused,
  attackExpression,
  attackFuture,
  sharedSandbox,
  WORKER_GLOBAL,
} from "./attack.ts";

// Set before any sandbox starts: a leak of the server's environment would carry it along.
const CANARY_NAME = "WASM_REPL_CANARY_SECRET";
const CANARY = `s3cr3t-${randomBytes(12).toString("hex")}`;
process.env[CANARY_NAME] = CANARY;

const runtime = await startTestRuntime();
const target = sharedSandbox(runtime);
const { files, snapshotPath } = runtime.environment;

/** The variables the launcher gives a sandbox; nothing else may be in its environment. */
const LAUNCH_VARIABLES = ["DENO_DIR", "DENO_NO_UPDATE_CHECK", "NO_COLOR", "MALLOC_MMAP_THRESHOLD_"];

async function procEntries(file: "environ" | "cmdline"): Promise<string[]> {
  const { pid } = await target();
  return readFileSync(`/proc/${pid}/${file}`, "utf8").split("\0").filter(Boolean);
}

/** Python: whether the canary shows up anywhere in the string form of `expression`. */
function leaks(expression: string): string {
  return `${JSON.stringify(CANARY)} in str(${expression}) or ${JSON.stringify(CANARY_NAME)} in str(${expression})`;
}

describe("the server's environment does not reach the sandbox", () => {
  test("the canary is set in the test process, and the leak check finds it where it is", async () => {
    assert.equal(process.env[CANARY_NAME], CANARY);
    assertObtainedOnly(await attackExpression(await target(), leaks(JSON.stringify({ [CANARY_NAME]: CANARY }))), "True");
  });

  test("os.environ holds no trace of the canary", async () => {
    const sandbox = await target();
    assertObtainedOnly(await attackExpression(sandbox, leaks("dict(os.environ)"), "import os"), "False");
    assertObtainedOnly(await attackExpression(sandbox, `os.getenv(${JSON.stringify(CANARY_NAME)})`, "import os"), "None");
  });

  test("Python cannot open /proc/self/environ", async () => {
    const sandbox = await target();
    assertRaises(
      await attackExpression(sandbox, `open("/proc/self/environ", "rb").read()`),
      /^FileNotFoundError: \[Errno 44\] No such file or directory: '\/proc\/self\/environ'$/,
    );
    await assertContained(sandbox);
  });

  test("Emscripten's ENV and Pyodide's configured env hold no trace of the canary", async () => {
    const sandbox = await target();
    const setup = "import pyodide_js";
    assertObtainedOnly(await attackExpression(sandbox, leaks("dict(pyodide_js._module.ENV.object_entries())"), setup), "False");
    assertObtainedOnly(await attackExpression(sandbox, leaks("dict(pyodide_js._api.config.env.object_entries())"), setup), "False");
  });

  test("the real /proc/self/environ is unreadable through Pyodide's loader", async () => {
    const sandbox = await target();
    await assertRefused(await attackFuture(sandbox, `pyodide_js._api.loadBinaryFile("/proc/self/environ")`, "import pyodide_js"), CANARY, "DENO_DIR=");
    await assertContained(sandbox);
  });

  test("Deno.env is out of reach: the global object cannot be caught, and an attack through it obtains nothing", async () => {
    const sandbox = await target();
    await assertGlobalNotCaught(sandbox);
    await assertRefused(await attackExpression(sandbox, `str(worker_global().Deno.env.toObject())`, WORKER_GLOBAL), CANARY);
    await assertRefused(await attackExpression(sandbox, `worker_global().Deno.env.get(${JSON.stringify(CANARY_NAME)})`, WORKER_GLOBAL), CANARY);
    await assertContained(sandbox);
  });
});

describe("the sandbox process is started deny-by-default", () => {
  test("its environment is only the launcher's variables, without the canary", async () => {
    const environ = await procEntries("environ");
    assert.equal(environ.some((entry) => entry.includes(CANARY) || entry.includes(CANARY_NAME)), false);
    const names = environ.map((entry) => entry.slice(0, entry.indexOf("=")));
    assert.deepEqual(names.filter((name) => !LAUNCH_VARIABLES.includes(name)), []);
  });

  test("its command line asks for no prompt, no code generation and no permission beyond reading its files", async () => {
    const args = await procEntries("cmdline");
    assert.ok(args.includes("--no-prompt"), `no --no-prompt in ${args.join(" ")}`);
    const v8Flags = args.find((arg) => arg.startsWith("--v8-flags="));
    assert.ok(v8Flags?.split(/[=,]/).includes("--disallow-code-generation-from-strings"), `v8 flags: ${v8Flags}`);
    const grants = args.filter((arg) => /^(-A|--allow-all|--allow-(net|env|run|write|ffi|sys|import|hrtime|scripts))(=|$)/.test(arg));
    assert.deepEqual(grants, []);
    assert.equal(args.some((arg) => arg.includes(CANARY)), false);
    // Reading is allowed only for Pyodide, the guest code and the snapshot (and revoked after boot).
    const reads = args.filter((arg) => arg.startsWith("--allow-read"));
    assert.equal(reads.length, 1, `read grants: ${reads.join(" ")}`);
    const readable = reads[0]!.slice("--allow-read=".length).split(",");
    assert.deepEqual(readable.sort(), [files.pyodideDir, files.sandboxDir, snapshotPath].sort());
  });
});
