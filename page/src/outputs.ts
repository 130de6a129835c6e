// What a session's frames about a run do to its cell: streams grow, displays appear or replace
// one another, clear_output clears, the result adds the value or the error, the execution count,
// the time, and says which limits the run hit. Pure (no DOM), so live frames and frames replayed
// after a reload build the same cell.
import type { ClearOutputFrame, DisplayFrame, ErrorFrame, InputRequestFrame, ResultFrame, SessionLimits, StreamFrame } from "../../protocol/frames.ts";
import type { Cell, Note, Output } from "./notebook.ts";

/** The frames that belong to one run (they carry its id). */
export type RunFrame = StreamFrame | DisplayFrame | ClearOutputFrame | InputRequestFrame | ResultFrame | ErrorFrame;

/** The limits a note names, from the session frame; null before one came. */
export type NoteLimits = Pick<SessionLimits, "execution_timeout" | "max_output_bytes" | "memory_mb"> | null;

export function applyFrame(cell: Cell, frame: RunFrame, limits: NoteLimits): void {
  switch (frame.type) {
    case "stream":
      return appendStream(cell, frame.name, frame.text);
    case "display":
      return display(cell, frame);
    case "clear_output":
      if (frame.wait) cell.clearPending = true;
      else cell.outputs = [];
      return;
    case "input_request":
      cell.input = { prompt: frame.prompt, password: frame.password };
      return;
    case "result":
      return finish(cell, frame, limits);
    case "error":
      cell.status = "failed";
      cell.input = null;
      cell.notes.push({ level: "warning", text: `${frame.code}: ${frame.message}` });
      return;
  }
}

/** The output about to be added: a pending clear_output(wait=True) takes the old ones first. */
function add(cell: Cell, output: Output): void {
  if (cell.clearPending) {
    cell.outputs = [];
    cell.clearPending = false;
  }
  cell.outputs.push(output);
}

function appendStream(cell: Cell, name: "stdout" | "stderr", text: string): void {
  const last = cell.clearPending ? undefined : cell.outputs.at(-1);
  if (last?.output_type === "stream" && last.name === name) last.text += text;
  else add(cell, { output_type: "stream", name, text });
}

function display(cell: Cell, frame: DisplayFrame): void {
  const shown = { output_type: "display_data" as const, data: frame.data, metadata: frame.metadata, ...(frame.display_id !== undefined && { display_id: frame.display_id }) };
  if (frame.update) {
    // Replaced where it is (a new object, so the view draws it anew); one no longer shown stays gone.
    cell.outputs = cell.outputs.map((output) => (output.output_type === "display_data" && output.display_id === frame.display_id ? shown : output));
    return;
  }
  add(cell, shown);
}

function finish(cell: Cell, result: ResultFrame, limits: NoteLimits): void {
  cell.input = null;
  cell.clearPending = false;
  // Streams arrive before the result; only output whose frames were lost (a replay gap) is taken from it.
  for (const name of ["stdout", "stderr"] as const) {
    if (result[name] && !cell.outputs.some((output) => output.output_type === "stream" && output.name === name)) appendStream(cell, name, result[name]);
  }
  if (result.data) cell.outputs.push({ output_type: "execute_result", data: result.data, metadata: {}, execution_count: result.execution_count });
  if (result.error) cell.outputs.push({ output_type: "error", ename: result.error.type, evalue: result.error.message, traceback: result.error.traceback.split("\n") });
  cell.execution_count = result.execution_count;
  cell.time = result.execution_time;
  cell.status = result.success ? "done" : "failed";
  cell.notes.push(...resultNotes(result, limits));
}

/** What a result says beside its outputs: every limit it hit, and lost variables, in plain words. */
export function resultNotes(result: ResultFrame, limits: NoteLimits): Note[] {
  const notes: Note[] = [];
  const type = result.error?.type;
  if (!result.state_preserved) notes.push({ level: "warning", text: "state_preserved: false — the interpreter was restarted, and every variable of earlier cells is gone." });
  if (type === "TimeoutError") notes.push({ level: "warning", text: `Stopped at the time limit${limits ? ` (${limits.execution_timeout} s)` : ""}.` });
  if (type === "MemoryError") notes.push({ level: "warning", text: `Memory limit reached${limits ? ` (${limits.memory_mb} MiB)` : ""}.` });
  if (type === "KeyboardInterrupt") notes.push({ level: "info", text: "Interrupted." });
  if (result.output_dropped_bytes > 0) {
    notes.push({ level: "warning", text: `Output limit reached${limits ? ` (${bytes(limits.max_output_bytes)})` : ""}: ${bytes(result.output_dropped_bytes)} of output dropped.` });
  }
  if (result.truncated.length > 0) notes.push({ level: "info", text: `Cut to fit the result's size limits: ${result.truncated.join(", ")}.` });
  return notes;
}

/** "512 B", "12.5 KiB", "1.0 MiB". */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

/** A run's time as a person reads it: "3 ms", "1.25 s". */
export function duration(seconds: number): string {
  return seconds < 1 ? `${Math.max(0, Math.round(seconds * 1000))} ms` : `${seconds.toFixed(2)} s`;
}
