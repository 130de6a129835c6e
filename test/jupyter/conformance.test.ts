// Debian's jupyter_kernel_test, Jupyter's conformance suite for kernels, against a wasm-repl
// kernel reached through jupyter-server's gateway kernel manager (kernel_conformance.py): every
// message it reads is checked against the protocol's schemas. Every test runs, history and input
// included; only the pager's is skipped (it needs IPython's `?` help).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runPython } from "../helpers/jupyter-server.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();

test("jupyter_kernel_test's KernelTests pass against a wasm-repl kernel", { timeout: 120_000 }, async () => {
  const { code, stdout, stderr } = await runPython("kernel_conformance.py", [server.url, await server.token()]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^Ran 13 tests in/m);
  const passed = [...stderr.matchAll(/^(test_\w+) \(.*\) \.\.\. ok$/gm)].map((match) => match[1]).sort();
  assert.deepEqual(passed, [
    "test_clear_output",
    "test_completion",
    "test_display_data",
    "test_error",
    "test_execute_result",
    "test_execute_stderr",
    "test_execute_stdout",
    "test_history",
    "test_input",
    "test_inspect",
    "test_is_complete",
    "test_kernel_info",
  ]);
  const skipped = stdout.split("\n").filter((line) => line.startsWith("skipped:"));
  assert.deepEqual(skipped.map((line) => line.split(":")[1]!.trim()), ["__main__.WasmReplKernelTests.test_pager"]);
});
