// The notebook as a Jupyter notebook file (nbformat 4.5) and back, so work moves to and from
// Jupyter. Pure (no DOM). Reading checks what it takes and says what is wrong with a file it cannot.
import type { MimeBundle } from "../../protocol/frames.ts";
import { newCell, newId, type Cell, type CellType, type Notebook, type Output } from "./notebook.ts";

const KERNELSPEC = { name: "python3", display_name: "Python 3 (wasm-repl)", language: "python" };
const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;

export class IpynbError extends Error {}

export function toIpynb(notebook: Notebook): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { ...notebook.metadata, kernelspec: KERNELSPEC, language_info: { name: "python" } },
    cells: notebook.cells.map(cellToIpynb),
  };
}

function cellToIpynb(cell: Cell): Record<string, unknown> {
  const common = { id: cell.id, cell_type: cell.cell_type, metadata: cell.metadata, source: lines(cell.source) };
  if (cell.cell_type !== "code") return common;
  return { ...common, execution_count: cell.execution_count, outputs: cell.outputs.map(outputToIpynb) };
}

function outputToIpynb(output: Output): Record<string, unknown> {
  switch (output.output_type) {
    case "stream":
      return { output_type: "stream", name: output.name, text: lines(output.text) };
    case "display_data":
      // display_id is transient in Jupyter too: a saved notebook has nothing left to update.
      return { output_type: "display_data", data: output.data, metadata: output.metadata };
    case "execute_result":
      return { output_type: "execute_result", data: output.data, metadata: output.metadata, execution_count: output.execution_count };
    case "error":
      return { output_type: "error", ename: output.ename, evalue: output.evalue, traceback: output.traceback };
  }
}

/** nbformat's multiline string: the lines, each with its newline but the last. */
function lines(text: string): string[] {
  return text === "" ? [] : text.split(/(?<=\n)/);
}

export function fromIpynb(text: string): Notebook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IpynbError(`the file is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw new IpynbError("the file is not a notebook: it holds no JSON object");
  if (json.nbformat !== 4) throw new IpynbError(`the notebook is nbformat ${JSON.stringify(json.nbformat ?? null)}; this page reads nbformat 4 (Jupyter's since 2015: "Save as" in a newer Jupyter)`);
  if (!Array.isArray(json.cells)) throw new IpynbError("the notebook has no list of cells");
  const seen = new Set<string>();
  const cells = json.cells.map((cell, index) => cellFromIpynb(cell, index, seen));
  const { kernelspec: _kernelspec, language_info: _language, ...metadata } = isObject(json.metadata) ? json.metadata : {};
  return { cells: cells.length > 0 ? cells : [newCell()], metadata };
}

function cellFromIpynb(json: unknown, index: number, seen: Set<string>): Cell {
  const where = `cell ${index + 1}`;
  if (!isObject(json)) throw new IpynbError(`${where} is not an object`);
  const type = json.cell_type;
  if (type !== "code" && type !== "markdown" && type !== "raw") throw new IpynbError(`${where} has cell_type ${JSON.stringify(type ?? null)}; expected code, markdown or raw`);
  const cell = newCell(multiline(json.source, `${where}'s source`), type as CellType);
  // Ids from older files (before 4.5) or repeated ones are made anew.
  if (typeof json.id === "string" && CELL_ID.test(json.id) && !seen.has(json.id)) cell.id = json.id;
  while (seen.has(cell.id)) cell.id = newId();
  seen.add(cell.id);
  if (isObject(json.metadata)) cell.metadata = json.metadata;
  if (type !== "code") {
    if (cell.source) cell.status = "done"; // a markdown cell shows its text
    return cell;
  }
  cell.execution_count = typeof json.execution_count === "number" ? json.execution_count : null;
  cell.outputs = Array.isArray(json.outputs) ? json.outputs.flatMap((output, at) => outputFromIpynb(output, `${where}'s output ${at + 1}`)) : [];
  if (cell.execution_count !== null || cell.outputs.length > 0) cell.status = "done";
  return cell;
}

/** An output as the page shows it; none for kinds it has no view of. */
function outputFromIpynb(json: unknown, where: string): Output[] {
  if (!isObject(json)) throw new IpynbError(`${where} is not an object`);
  switch (json.output_type) {
    case "stream":
      return [{ output_type: "stream", name: json.name === "stderr" ? "stderr" : "stdout", text: multiline(json.text, where) }];
    case "display_data":
      return [{ output_type: "display_data", data: bundle(json.data, where), metadata: isObject(json.metadata) ? json.metadata : {} }];
    case "execute_result":
      return [{ output_type: "execute_result", data: bundle(json.data, where), metadata: isObject(json.metadata) ? json.metadata : {}, execution_count: typeof json.execution_count === "number" ? json.execution_count : null }];
    case "error":
      return [{ output_type: "error", ename: String(json.ename ?? "Error"), evalue: String(json.evalue ?? ""), traceback: Array.isArray(json.traceback) ? json.traceback.map(String) : [] }];
    default:
      return [];
  }
}

/** A MIME bundle: text kinds may be saved as lists of lines; JSON kinds stay JSON. */
function bundle(json: unknown, where: string): MimeBundle {
  if (!isObject(json)) throw new IpynbError(`${where} has no data`);
  return Object.fromEntries(Object.entries(json).map(([mime, value]) => [mime, mime.endsWith("json") ? value : multiline(value, `${where}'s ${mime}`)]));
}

function multiline(value: unknown, where: string): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((line) => typeof line === "string")) return value.join("");
  throw new IpynbError(`${where} is neither a string nor a list of strings`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
