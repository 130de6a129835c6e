// Untrusted Python must not start a process on the host. Every attack tries to create a marker
// file with `touch`; the test then checks from the host that the file does not exist.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertContained,
  assertGlobalNotCaught,
  assertRaises,
  assertRefused,
  attackExpression,
  reachableNames,
  sharedSandbox,
  WORKER_GLOBAL,
} from "./attack.ts";

const runtime = await startTestRuntime();
const target = sharedSandbox(runtime);

const hostDir = mkdtempSync(join(tmpdir(), "wasm-repl-processes-"));
after(() => rmSync(hostDir, { recursive: true, force: true }));

let markers = 0;
/** A host path that exists only if a process started by the sandbox created it. */
function marker(): string {
  return join(hostDir, `touched-${++markers}`);
}

/** Asserts that no process the sandbox started created `path`. */
function assertNotCreated(path: string): void {
  assert.equal(existsSync(path), false, `${path} was created`);
}

describe("Python cannot start a process", () => {
  /** A test whose attack (given the marker path) must be refused and create no marker. */
  function refuses(name: string, attackOn: (path: string) => string, setup = "import os"): void {
    test(`${name} starts nothing`, async () => {
      const sandbox = await target();
      const path = marker();
      await assertRefused(await attackExpression(sandbox, attackOn(path), setup));
      assertNotCreated(path);
      await assertContained(sandbox);
    });
  }

  refuses("subprocess.run", (path) => `subprocess.run(["touch", ${JSON.stringify(path)}])`, "import subprocess");
  refuses("os.popen", (path) => `os.popen("touch ${path}").read()`);
  refuses("os.fork", () => `os.fork()`);
  refuses("os.spawnv", (path) => `os.spawnv(os.P_WAIT, "/usr/bin/touch", ["touch", ${JSON.stringify(path)}])`);
  refuses("os.execv", (path) => `os.execv("/usr/bin/touch", ["touch", ${JSON.stringify(path)}])`);

  test("no object Pyodide exposes carries child_process or Deno, and code naming Deno.Command does not compile", async () => {
    const sandbox = await target();
    const containers = ["js", "pyodide_js", "pyodide_js._api", "pyodide_js._module"];
    assert.deepEqual(await reachableNames(sandbox, containers, ["Deno", "require", "process", "child_process", "spawn", "spawnSync"]), []);
    // Compiling code that names Deno.Command is refused, so Deno's process API stays out of reach.
    assertRaises(
      await attackExpression(sandbox, `to_js({}).constructor.constructor("return Deno.Command")()`, "from pyodide.ffi import to_js"),
      /^JsException: EvalError: Code generation from strings disallowed/,
    );
    await assertContained(sandbox);
  });

  test("Deno.Command and Deno.kill are out of reach: the global object cannot be caught, and nothing runs", async () => {
    const sandbox = await target();
    await assertGlobalNotCaught(sandbox);
    const path = marker();
    const command = `worker_global().Deno.Command.new("/usr/bin/touch", js_object(args=[${JSON.stringify(path)}])).outputSync()`;
    await assertRefused(await attackExpression(sandbox, command, WORKER_GLOBAL));
    assertNotCreated(path);
    // Signalling a host process is a process operation too: a bystander of ours must survive it.
    const bystander = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      await assertRefused(await attackExpression(sandbox, `worker_global().Deno.kill(${bystander.pid}, "SIGKILL")`, WORKER_GLOBAL));
      await delay(100);
      assert.equal(bystander.exitCode ?? bystander.signalCode, null, "the sandbox killed a host process");
    } finally {
      bystander.kill("SIGKILL");
    }
    await assertContained(sandbox);
  });

  // Last, on a sandbox of its own: the interpreter's worker has no Node or Deno to start a
  // process with, so Emscripten's system() reports that it has no shell (-1); the marker shows
  // that nothing ran.
  test("os.system starts nothing", async () => {
    const path = marker();
    const victim = await runtime.pool.take();
    const attempt = await attackExpression(victim, `os.system("touch ${path}")`, "import os");
    assertNotCreated(path);
    if (attempt.outcome?.obtained === undefined) await assertRefused(attempt);
    else assert.equal(attempt.outcome.obtained, "-1", "system() says it could not run the command");
    await assertContained(victim);
  });
});
