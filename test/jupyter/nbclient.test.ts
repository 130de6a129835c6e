// Debian's nbclient executes a notebook on a wasm-repl kernel through jupyter-server's gateway
// kernel manager (test/jupyter/run_notebook.py), as papermill and nbconvert --execute would:
// variables persist from cell to cell; streams, rich output, results and errors land in the notebook.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { jupyterEnv, PYTHON, scratchDir } from "../helpers/jupyter-server.ts";
import { rest } from "../helpers/jupyter-client.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();
const token = await server.token();

function code(source: string) {
  return { cell_type: "code", source, metadata: {}, outputs: [], execution_count: null };
}

const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
  cells: [
    code("x = 21\nprint('hello from wasm-repl')"),
    code("x * 2"),
    code("1 / 0"),
    code("x + 1"),
    code("from IPython.display import HTML, display\ndisplay(HTML('<b>shown</b>'))\nHTML(f'<i>{x}</i>')"),
  ],
};

/** Runs the notebook through run_notebook.py; the executed notebook. */
async function execute(notebook: object): Promise<{ cells: Array<{ execution_count: number; outputs: any[] }> }> {
  const scratch = await scratchDir();
  const child = spawn(PYTHON, [join(import.meta.dirname, "run_notebook.py"), server.url, token], { cwd: import.meta.dirname, env: jupyterEnv(scratch), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(JSON.stringify(notebook));
  const exit = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.equal(exit, 0, stderr);
  return JSON.parse(stdout, (key, value: unknown) => ((key === "text" || key.includes("/")) && isLines(value) ? value.join("") : value));
}

/** nbformat writes a text (a stream's, a MIME bundle's entry) as a list of lines: read back as one string. */
function isLines(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string");
}

test("nbclient runs a notebook on a wasm-repl kernel: state, streams, results and errors", { timeout: 120_000 }, async () => {
  const { cells } = await execute(NOTEBOOK);
  const [assign, result, failure, after, rich] = cells;
  assert.deepEqual(assign!.outputs, [{ output_type: "stream", name: "stdout", text: "hello from wasm-repl\n" }]);
  assert.deepEqual(result!.outputs, [{ output_type: "execute_result", execution_count: result!.execution_count, data: { "text/plain": "42" }, metadata: {} }]);
  assert.equal(failure!.outputs.length, 1);
  assert.equal(failure!.outputs[0].output_type, "error");
  assert.equal(failure!.outputs[0].ename, "ZeroDivisionError");
  assert.match(failure!.outputs[0].traceback.join("\n"), /1 \/ 0/);
  assert.equal(after!.outputs[0].data["text/plain"], "22", "allow_errors: the cells after an error run, with the variables");
  assert.deepEqual(
    rich!.outputs.map((output) => [output.output_type, output.data["text/html"]]),
    [
      ["display_data", "<b>shown</b>"],
      ["execute_result", "<i>21</i>"],
    ],
    "rich output and a rich result carry their HTML",
  );
  assert.deepEqual(
    cells.map((cell) => cell.execution_count),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual((await rest(server.url, token, "GET", "/api/kernels")).body, [], "nbclient shut its kernel down: the session ended");
});
