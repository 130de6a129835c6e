// The notebook as the page holds it: cells with their source, outputs and the state of their last
// run. Outputs are nbformat 4's, so a notebook goes to and from .ipynb as it is (ipynb.ts). Plain
// data only (no DOM): it is kept in the tab's session storage, and tests read it in Node.
import type { MimeBundle } from "../../protocol/frames.ts";

interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: string;
}
interface DisplayOutput {
  output_type: "display_data";
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** Present when a later display may replace it (display(..., display_id=...), update_display). */
  display_id?: string;
}
interface ResultOutput {
  output_type: "execute_result";
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count: number | null;
}
interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export type Output = StreamOutput | DisplayOutput | ResultOutput | ErrorOutput;

export type CellType = "code" | "markdown" | "raw";
/** idle: never run here; running: sent, no result yet; done / failed: its last run's outcome. */
type CellStatus = "idle" | "running" | "done" | "failed";

/** What a run says beside its outputs: a limit it hit, variables lost, an error of the server. */
export interface Note {
  level: "warning" | "info";
  text: string;
}

export interface Cell {
  /** nbformat 4.5's cell id: letters, digits, - and _. */
  id: string;
  cell_type: CellType;
  source: string;
  outputs: Output[];
  execution_count: number | null;
  status: CellStatus;
  /** The execute id of its latest run: that run's frames carry it. */
  run: string | null;
  /** Seconds its latest run took (the result's execution_time). */
  time: number | null;
  notes: Note[];
  /** clear_output(wait=True): the outputs go when the next one arrives. */
  clearPending: boolean;
  /** The run waits in input() (getpass(): password). */
  input: { prompt: string; password: boolean } | null;
  /** An imported cell's metadata, written back on export. */
  metadata: Record<string, unknown>;
}

export interface Notebook {
  cells: Cell[];
  /** An imported notebook's metadata, written back on export. */
  metadata: Record<string, unknown>;
}

/** An id as nbformat 4.5 wants it (1-64 of [a-zA-Z0-9-_]); unique enough among a notebook's cells. */
export function newId(): string {
  return Array.from({ length: 12 }, () => "abcdefghijklmnopqrstuvwxyz0123456789"[Math.floor(Math.random() * 36)]).join("");
}

export function newCell(source = "", cell_type: CellType = "code"): Cell {
  return { id: newId(), cell_type, source, outputs: [], execution_count: null, status: "idle", run: null, time: null, notes: [], clearPending: false, input: null, metadata: {} };
}

export function newNotebook(): Notebook {
  return { cells: [newCell()], metadata: {} };
}

/** The cell before its next run: no outputs, no notes, running under a new execute id. */
export function startRun(cell: Cell, run: string): void {
  Object.assign(cell, { outputs: [], notes: [], status: "running", run, time: null, clearPending: false, input: null });
}
