// The notebook to and from .ipynb (page/src/ipynb.ts), without a browser: nbformat 4.5 as Jupyter
// writes it, read back into the same cells, and files the page cannot read refused with the reason.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fromIpynb, IpynbError, toIpynb } from "../../page/src/ipynb.ts";
import { newCell, type Notebook } from "../../page/src/notebook.ts";

function sample(): Notebook {
  const code = newCell("x = 2\nprint(x)\nx * 21");
  Object.assign(code, {
    execution_count: 4,
    status: "done",
    outputs: [
      { output_type: "stream", name: "stdout", text: "2\n" },
      { output_type: "display_data", data: { "text/html": "<b>hi</b>", "text/plain": "<HTML>" }, metadata: {}, display_id: "d1" },
      { output_type: "display_data", data: { "application/json": { a: [1, 2] }, "text/plain": "{'a': [1, 2]}" }, metadata: {} },
      { output_type: "execute_result", data: { "text/plain": "42" }, metadata: {}, execution_count: 4 },
    ],
  });
  const failing = newCell("1/0");
  Object.assign(failing, { execution_count: 5, status: "failed", outputs: [{ output_type: "error", ename: "ZeroDivisionError", evalue: "division by zero", traceback: ["Traceback (most recent call last):", "ZeroDivisionError: division by zero"] }] });
  return { cells: [newCell("# Title\nSome *text*.", "markdown"), code, failing], metadata: { title: "kept" } };
}

test("a notebook is written as nbformat 4.5: ids, multiline sources, outputs Jupyter reads, no transient display ids", () => {
  const notebook = sample();
  const file = toIpynb(notebook) as { nbformat: number; nbformat_minor: number; metadata: Record<string, unknown>; cells: Record<string, unknown>[] };
  assert.equal(file.nbformat, 4);
  assert.equal(file.nbformat_minor, 5);
  assert.deepEqual(file.metadata, { title: "kept", kernelspec: { name: "python3", display_name: "Python 3 (wasm-repl)", language: "python" }, language_info: { name: "python" } });
  assert.deepEqual(file.cells[0], { id: notebook.cells[0]!.id, cell_type: "markdown", metadata: {}, source: ["# Title\n", "Some *text*."] });
  const code = file.cells[1]!;
  assert.equal(code.execution_count, 4);
  assert.deepEqual(code.source, ["x = 2\n", "print(x)\n", "x * 21"]);
  assert.deepEqual(code.outputs, [
    { output_type: "stream", name: "stdout", text: ["2\n"] },
    { output_type: "display_data", data: { "text/html": "<b>hi</b>", "text/plain": "<HTML>" }, metadata: {} },
    { output_type: "display_data", data: { "application/json": { a: [1, 2] }, "text/plain": "{'a': [1, 2]}" }, metadata: {} },
    { output_type: "execute_result", data: { "text/plain": "42" }, metadata: {}, execution_count: 4 },
  ]);
  for (const cell of file.cells) assert.match(String(cell.id), /^[a-zA-Z0-9-_]{1,64}$/);
});

test("what is written reads back as the same cells and outputs", () => {
  const notebook = sample();
  const back = fromIpynb(JSON.stringify(toIpynb(notebook)));
  assert.deepEqual(back.metadata, { title: "kept" });
  assert.deepEqual(
    back.cells.map(({ id, cell_type, source, execution_count }) => ({ id, cell_type, source, execution_count })),
    notebook.cells.map(({ id, cell_type, source, execution_count }) => ({ id, cell_type, source, execution_count })),
  );
  const { display_id: _transient, ...display } = notebook.cells[1]!.outputs[1] as { display_id?: string };
  assert.deepEqual(back.cells[1]!.outputs, [notebook.cells[1]!.outputs[0], display, ...notebook.cells[1]!.outputs.slice(2)]);
  assert.deepEqual(back.cells[2]!.outputs, notebook.cells[2]!.outputs);
});

test("a notebook as Jupyter writes it: lists of lines in outputs, older files without ids, repeated ids, unknown output kinds", () => {
  const notebook = fromIpynb(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 2,
      metadata: { kernelspec: { name: "other" } },
      cells: [
        { cell_type: "code", metadata: {}, execution_count: 1, source: ["import math\n", "math.pi"], outputs: [{ output_type: "execute_result", execution_count: 1, metadata: {}, data: { "text/plain": ["3.14", "15"] } }] },
        { id: "same", cell_type: "code", metadata: { tags: ["x"] }, execution_count: null, source: "", outputs: [{ output_type: "widget-view" }] },
        { id: "same", cell_type: "raw", metadata: {}, source: "raw text" },
      ],
    }),
  );
  assert.deepEqual(notebook.metadata, {}, "the kernelspec is this server's on export");
  const [first, second, third] = notebook.cells;
  assert.equal(first!.source, "import math\nmath.pi");
  assert.deepEqual(first!.outputs, [{ output_type: "execute_result", data: { "text/plain": "3.1415" }, metadata: {}, execution_count: 1 }]);
  assert.match(first!.id, /^[a-z0-9]{12}$/);
  assert.equal(second!.id, "same");
  assert.deepEqual(second!.metadata, { tags: ["x"] });
  assert.deepEqual(second!.outputs, []);
  assert.notEqual(third!.id, "same");
  assert.equal(third!.cell_type, "raw");
});

test("a file the page cannot read is refused, saying why", () => {
  const refused = (text: string, message: RegExp) => assert.throws(() => fromIpynb(text), (error: unknown) => error instanceof IpynbError && message.test(error.message));
  refused("{not json", /not JSON/);
  refused("[]", /holds no JSON object/);
  refused(JSON.stringify({ nbformat: 3, worksheets: [] }), /nbformat 3; this page reads nbformat 4/);
  refused(JSON.stringify({ nbformat: 4 }), /no list of cells/);
  refused(JSON.stringify({ nbformat: 4, cells: [{ cell_type: "heading", source: "" }] }), /cell 1 has cell_type "heading"/);
  refused(JSON.stringify({ nbformat: 4, cells: [{ cell_type: "code", source: 5 }] }), /cell 1's source is neither a string nor a list of strings/);
  assert.equal(fromIpynb(JSON.stringify({ nbformat: 4, cells: [] })).cells.length, 1, "an empty notebook opens with one empty cell");
});
