// The package repository from inside a sandbox: the process may read its directory, and its
// main thread serves the files the lock names to the interpreters, which have no permission of
// their own. Python can reach that serving (through Pyodide's loader, which takes URLs): anything
// but a file the lock names is refused, and the directory is nowhere in the interpreter's files.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { test } from "node:test";
import { makeRepository } from "../helpers/repository.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";
import { PASSWD_LINE } from "./attack.ts";

const repository = makeRepository({ wheels: [{ name: "listed", files: { "listed.py": "OK = True\n" } }] });
const runtime = await startTestRuntime({ poolSize: 1, packages: repository.settings() });

const LOADER = `
import pyodide_js
from pyodide.ffi import to_js, create_proxy
errors, loaded = [], []
def ask(url):
    options = to_js({"errorCallback": create_proxy(errors.append), "messageCallback": create_proxy(loaded.append)}, dict_converter=to_js({}).constructor.fromEntries)
    pyodide_js.loadPackage(url, options)
`;

/** Starts Pyodide's loader on `url` in the sandbox and waits (between cells) for what it reported. */
async function ask(url: string): Promise<string> {
  const sandbox = await runtime.pool.take();
  try {
    assert.equal((await run(sandbox, `${LOADER}\nask(${JSON.stringify(url)})`)).error, null);
    for (let poll = 0; poll < 100; poll++) {
      const outcome = await run(sandbox, "' | '.join(errors) or ('loaded' if any(m.startswith('Loaded') for m in loaded) else '')");
      if (outcome.value !== "''") return outcome.value!;
      await delay(20);
    }
    return "no answer";
  } finally {
    await sandbox.close();
  }
}

test("a file the lock names is served to the loader: the path the refusals below take is open", async () => {
  assert.equal(await ask(`https://packages.wasm-repl.invalid/${repository.lock.packages["listed"]!.file_name}`), "'loaded'");
});

test("anything else is refused by the process's main thread, and never read", async () => {
  const refusals = [
    ["a path out of the repository", "https://packages.wasm-repl.invalid/%2E%2E%2Fpyodide-lock-1.0-py3-none-any.whl", /the package repository has no file "\.\.\/pyodide-lock-1\.0-py3-none-any\.whl"/],
    ["a host path", "https://packages.wasm-repl.invalid/etc/passwd-1.0-py3-none-any.whl", /the package repository has no file "etc\/passwd-1\.0-py3-none-any\.whl"/],
    ["the lock file itself", "https://packages.wasm-repl.invalid/pyodide-lock.json-1.0-py3-none-any.whl", /the package repository has no file/],
    ["a file: URL", "file:///etc/passwd-1.0-py3-none-any.whl", /fetch is not available in the sandbox/],
    ["another host", "https://example.com/x-1.0-py3-none-any.whl", /fetch is not available in the sandbox/],
  ] as const;
  for (const [what, url, reason] of refusals) {
    const answer = await ask(url);
    assert.match(answer, reason, what);
    assert.ok(!answer.includes(PASSWD_LINE), what);
  }
});

test("the interpreter's own file system has no trace of the repository's directory", async () => {
  const sandbox = await runtime.pool.take();
  const result = await run(sandbox, `import os\nos.path.exists(${JSON.stringify(repository.dir)}), sorted(os.listdir('/lib/wheels')) if os.path.exists('/lib/wheels') else []`);
  assert.equal(result.value, "(False, [])", "nothing mounted; nothing written before a package is loaded");
  await sandbox.close();
});

test("the process may read the repository's directory, besides what it read before, and nothing more", async () => {
  const sandbox = await runtime.pool.take();
  const argv = readFileSync(`/proc/${sandbox.pid}/cmdline`, "utf8").split("\0");
  const allowRead = argv.find((arg) => arg.startsWith("--allow-read="))!.slice("--allow-read=".length).split(",");
  const { files, snapshotPath } = runtime.environment;
  assert.deepEqual(allowRead, [files.pyodideDir, files.sandboxDir, snapshotPath, `${repository.dir}/`]);
  for (const flag of ["--allow-write", "--allow-net", "--allow-env", "--allow-run", "--allow-all"]) assert.ok(!argv.some((arg) => arg.startsWith(flag)), flag);
  await sandbox.close();
});
