// How a cell's end reads on Jupyter's channels: the outputs it publishes on iopub and the content
// of its execute_reply, from the session's result (or refusal). Pure: the connection adds headers.
import type { ErrorCode } from "../../protocol/index.ts";
import type { CellResult } from "../sandbox/sandbox.ts";
import type { DisplayEvent } from "../sessions/events.ts";
import { errorFields, errorReply, type ErrorFields } from "./messages.ts";

export interface Output {
  msgType: "stream" | "execute_result" | "error";
  content: Record<string, unknown>;
}

export interface CellEnd {
  /** What goes to iopub (none for a silent cell), in order. */
  outputs: Output[];
  /** The execute_reply's content. */
  reply: Record<string, unknown>;
  /** The cell failed: with stop_on_error, the client's queued cells are aborted. */
  failed: boolean;
}

/**
 * A cell that ran. `executionCount` is the session's count, for the results of work that never
 * reached the interpreter (a cancelled cell reports 0).
 */
export function ranCell(result: CellResult, executionCount: number): CellEnd {
  const count = result.execution_count > 0 ? result.execution_count : executionCount;
  const outputs: Output[] = notes(result).map((text) => ({ msgType: "stream", content: { name: "stderr", text } }));
  if (result.error === null) {
    // The value's MIME bundle; its repr alone when the bundle was over the output cap.
    if (result.value !== null) outputs.push({ msgType: "execute_result", content: { execution_count: count, data: result.data ?? { "text/plain": result.value }, metadata: {} } });
    return { outputs, reply: { status: "ok", execution_count: count, payload: [], user_expressions: {} }, failed: false };
  }
  const { type, message, traceback } = result.error;
  return failedCell(outputs, errorFields(type, message, tracebackLines(traceback, type, message)), count);
}

/** Rich output as display_data, or update_display_data when it replaces an earlier one; its display_id rides in `transient`. */
export function displayed(event: DisplayEvent): { msgType: "display_data" | "update_display_data"; content: Record<string, unknown> } {
  const transient = event.display_id === null ? {} : { display_id: event.display_id };
  return { msgType: event.update ? "update_display_data" : "display_data", content: { data: event.data, metadata: event.metadata, transient } };
}

/** A cell the session would not run (busy, quota_exceeded, ...): its error code is the ename. */
export function refusedCell(code: ErrorCode, message: string, executionCount: number): CellEnd {
  return failedCell([], errorFields(code, message), executionCount);
}

function failedCell(outputs: Output[], error: ErrorFields, executionCount: number): CellEnd {
  return { outputs: [...outputs, { msgType: "error", content: { ...error } }], reply: { ...errorReply(error), execution_count: executionCount }, failed: true };
}

/** The reply to a cell aborted because an earlier one of the same client failed (stop_on_error). */
export const ABORTED_REPLY: Readonly<Record<string, unknown>> = { status: "aborted" };

/** Jupyter's traceback is a list of lines; ours is one text (and empty for some interrupts). */
function tracebackLines(traceback: string, type: string, message: string): string[] {
  const lines = traceback.replace(/\n$/, "").split("\n");
  return traceback === "" ? [`${type}: ${message}`] : lines;
}

/** What the result says that Jupyter has no field for: told on stderr, so the user sees it. */
function notes(result: CellResult): string[] {
  const said: string[] = [];
  if (result.output_dropped_bytes > 0) said.push(`[wasm-repl] ${result.output_dropped_bytes} bytes of this cell's output were dropped (MAX_OUTPUT_BYTES)\n`);
  if (!result.state_preserved) said.push("[wasm-repl] the interpreter had to be replaced: every variable of the session is gone\n");
  return said;
}
