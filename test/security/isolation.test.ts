// Two sessions' sandboxes share nothing: not variables, not modules, not files, and one cannot
// look into the other's process.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertAnswers,
  assertGlobalNotCaught,
  assertObtainedOnly,
  assertRaises,
  assertRefused,
  attackExpression,
  attackFuture,
  cacheCall,
} from "./attack.ts";

const runtime = await startTestRuntime({ poolSize: 2 });
const [first, second] = await Promise.all([runtime.pool.take(), runtime.pool.take()]);

/** Runs a cell that must succeed (the setting-up side of a test). */
async function runOk(sandbox: typeof first, code: string): Promise<void> {
  const result = await run(sandbox, code);
  assert.equal(result.error, null, `${code}: ${result.error?.type}: ${result.error?.message}`);
}

describe("sandboxes are isolated from each other", () => {
  test("they are different processes", () => {
    assert.ok(first.pid && second.pid);
    assert.notEqual(first.pid, second.pid);
  });

  test("a variable of one is not visible in the other", async () => {
    await runOk(first, `shared_secret = "only-in-the-first"`);
    assertRaises(await attackExpression(second, "shared_secret"), /^NameError: name 'shared_secret' is not defined$/);
    assertObtainedOnly(await attackExpression(first, "shared_secret"), "'only-in-the-first'");
  });

  test("a file one writes to Pyodide's in-memory file system is absent in the other", async () => {
    await runOk(first, `with open("/tmp/x", "w") as file:\n    file.write("first")`);
    assertObtainedOnly(await attackExpression(second, `os.path.exists("/tmp/x")`, "import os"), "False");
    assertObtainedOnly(await attackExpression(first, `open("/tmp/x").read()`), "'first'");
  });

  test("patching a module or a builtin in one leaves the other untouched", async () => {
    await runOk(first, `import string, builtins\nstring.digits = "patched"\nbuiltins.planted_builtin = "first"`);
    assertObtainedOnly(await attackExpression(second, `string.digits`, "import string"), "'0123456789'");
    assertRaises(await attackExpression(second, "planted_builtin"), /^NameError: name 'planted_builtin' is not defined$/);
    assertObtainedOnly(await attackExpression(first, `(string.digits, planted_builtin)`, "import string"), "('patched', 'first')");
  });

  test("patching Pyodide's JS objects in one leaves the other untouched", async () => {
    await runOk(first, `import pyodide_js\npyodide_js._api.planted = "first"`);
    assertRaises(await attackExpression(second, "pyodide_js._api.planted", "import pyodide_js"), /^AttributeError: planted$/);
  });

  test("one cannot read the other's /proc entries", async () => {
    const otherProc = `/proc/${first.pid}`;
    assertRaises(
      await attackExpression(second, `os.listdir(${JSON.stringify(otherProc)})`, "import os"),
      /^FileNotFoundError: \[Errno 44\] No such file or directory/,
    );
    // Text each entry of the first sandbox's process holds (none of it is in the attack's code).
    const contents = { environ: "DENO_DIR=", cmdline: "--v8-flags", maps: "[heap]", mem: "" };
    for (const [file, content] of Object.entries(contents)) {
      const read = `pyodide_js._api.loadBinaryFile(${JSON.stringify(`${otherProc}/${file}`)})`;
      await assertRefused(await attackFuture(second, read, "import pyodide_js"), ...(content ? [content] : []));
    }
    await assertAnswers(second);
    await assertAnswers(first);
  });

  test("neither can use the Cache API, so none can leave storage for the other", async () => {
    const key = randomBytes(12).toString("hex");
    const [name, url] = [JSON.stringify(`wasm-repl-isolation-${key}`), JSON.stringify(`https://wasm-repl.invalid/${key}`)];
    const secret = `cache-secret-${randomBytes(12).toString("hex")}`;
    await assertGlobalNotCaught(first);
    await assertRefused(await attackFuture(first, ...cacheCall(`cache_store(${name}, ${url}, ${JSON.stringify(secret)})`)));
    // The secret is only in the first's cell: finding it in what the second reports means it read the store.
    await assertRefused(await attackFuture(second, ...cacheCall(`cache_load(${name}, ${url})`)), secret);
    await assertAnswers(first);
    await assertAnswers(second);
  });
});
