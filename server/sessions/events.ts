// What a session tells the doors attached to it (protocol v1 over a WebSocket, and any other),
// as typed values: each door serialises them in its own format. Events about a cell's output and
// end get a seq and are kept for replay; the others only say what is happening now.
import type { ErrorCode, EvictionReason, StreamName } from "../../protocol/index.ts";
import type { CellResult, MimeBundle } from "../sandbox/sandbox.ts";

/** What a session runs: Python code (a cell), bookkeeping on its variables, or a question or file request of one caller's. */
export type WorkKind = "execute" | "set_vars" | "set_tools" | "add_context" | "install" | "reset" | "introspect" | "file";

/** Work was accepted and waits its turn. */
export interface QueuedEvent {
  type: "queued";
  id: string;
  kind: WorkKind;
}

/** Work left the queue and runs now (a door that shows busy and idle keys on this). */
export interface StartedEvent {
  type: "started";
  id: string;
  kind: WorkKind;
}

export interface StreamEvent {
  type: "stream";
  seq: number;
  id: string;
  name: StreamName;
  text: string;
}

/** Rich output a cell displayed while it ran (display(), IPython.display). */
export interface DisplayEvent {
  type: "display";
  seq: number;
  id: string;
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** Set when the output may be updated later (display(..., display_id=...)). */
  display_id: string | null;
  /** This replaces the output shown earlier under display_id. */
  update: boolean;
}

/** The cell cleared its output (clear_output); `wait`: once the next output arrives. */
export interface ClearOutputEvent {
  type: "clear_output";
  seq: number;
  id: string;
  wait: boolean;
}

/** The cell waits in input() for a door to answer (Session.input). */
export interface InputRequestEvent {
  type: "input_request";
  seq: number;
  id: string;
  prompt: string;
  /** getpass(): the answer should not be echoed. */
  password: boolean;
}

/** The cell called a client's tool and waits for a door's answer (Session.toolResult). */
export interface ToolCallEvent {
  type: "tool_call";
  seq: number;
  id: string;
  callId: string;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Work ran (or was cancelled before it could): how it ended. */
export interface ResultEvent {
  type: "result";
  seq: number;
  id: string;
  kind: WorkKind;
  result: CellResult;
}

/** Work that will not run, or an upload a door could not take: why. */
export interface ErrorEvent {
  type: "error";
  seq: number;
  id: string;
  code: ErrorCode;
  message: string;
}

/** The session ended here; `resumable` when it lives on elsewhere (its server drained and saved it). */
export interface EvictedEvent {
  type: "evicted";
  seq: number;
  reason: EvictionReason;
  resumable: boolean;
}

/** Events kept in the session's history and replayed to a door that reattaches. */
export type RecordedEvent = StreamEvent | DisplayEvent | ClearOutputEvent | InputRequestEvent | ToolCallEvent | ResultEvent | ErrorEvent | EvictedEvent;

export type SessionEvent = QueuedEvent | StartedEvent | RecordedEvent;

/** A recorded event before the session numbers it. */
export type Unnumbered<E extends RecordedEvent = RecordedEvent> = E extends RecordedEvent ? Omit<E, "seq"> : never;

/** Roughly the bytes an event holds, for the replay buffer's budget. */
export function eventBytes(event: RecordedEvent): number {
  return JSON.stringify(event).length;
}
