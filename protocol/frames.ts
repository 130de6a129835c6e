// wasm-repl wire protocol v1: the frames of a session's WebSocket, as TypeScript types.
// The one definition shared by the server, the client SDK and the tests. No I/O here.
// The prose contract is PROTOCOL.md beside this file.

export const PROTOCOL = "wasm-repl.v1";
/** Browsers cannot set headers on a WebSocket, so a token may ride as a subprotocol `bearer.<jwt>`. */
export const BEARER_SUBPROTOCOL_PREFIX = "bearer.";

export type LocalsMode = "all" | "changed" | "none";
export type StreamName = "stdout" | "stderr";

// ---- client to server ----

export interface ExecuteFrame {
  type: "execute";
  id: string;
  code: string;
  /** Seconds; defaults to the server's EXECUTION_TIMEOUT and is capped by MAX_EXECUTION_TIMEOUT. */
  timeout?: number;
  locals?: LocalsMode;
}
export interface InterruptFrame {
  type: "interrupt";
  /** A queued cell to cancel; without it, the running cell is interrupted. */
  id?: string;
}
export interface SetVarsFrame {
  type: "set_vars";
  id?: string;
  vars: Record<string, unknown>;
}
export interface ResetFrame {
  type: "reset";
  id?: string;
}
export interface CloseFrame {
  type: "close";
}
export interface PingFrame {
  type: "ping";
  id?: string;
}

/**
 * A payload that becomes the Python variable `context_<index>` (`history_<index>` for
 * add_history), `context` (`history`) naming index 0, as the RLM library does. It travels as
 * data, never as code. A string too large for one frame goes in chunks: every chunk but the last
 * has `more: true`; the value is made when the last arrives.
 */
export interface PayloadFields {
  id?: string;
  /** A string, or any JSON value (made a Python dict, list, ...). Chunks are strings. */
  payload: unknown;
  /** Default: the next free index. */
  index?: number;
  more?: boolean;
  /** A chunk's position: the characters sent before it. A chunk out of place ends the upload with an error. */
  offset?: number;
  /** The (concatenated) string is JSON text to decode: a large structured payload sent in chunks. */
  json?: boolean;
}
export interface AddContextFrame extends PayloadFields {
  type: "add_context";
}
export interface AddHistoryFrame extends PayloadFields {
  type: "add_history";
}

/** The answer to an `input_request`: what input() (or getpass()) returns to the waiting cell. */
export interface InputReplyFrame {
  type: "input_reply";
  /** The waiting cell's id. */
  id: string;
  value: string;
}

/**
 * A pure-Python wheel (`...-none-any.whl`) the session installs: its modules import in later cells,
 * and it stays installed across hibernation. At most PACKAGE_MAX_WHEEL_MB, the session's wheels together.
 */
export interface InstallFrame {
  type: "install";
  id?: string;
  /** The wheel's file name (name-version-python-abi-platform.whl). */
  filename: string;
  /** The wheel's bytes, base64. */
  wheel: string;
}

/** A function on the client's side that Python in the session may call (see tool_call). */
export interface ToolSpec {
  /** A Python identifier, not one of the session's own names (RESERVED_TOOL_NAMES). */
  name: string;
  description?: string;
}

/**
 * Declares the tools this client answers, replacing those declared before: Python calls each as
 * `tools.<name>(...)` and as a plain function `<name>(...)`. Queued in order with cells; answered
 * by a `result` (id as given). An SDK declares its tools again on every connection: a session
 * woken on another server knows them only from its snapshot.
 */
export interface SetToolsFrame {
  type: "set_tools";
  id?: string;
  tools: ToolSpec[];
}

/** The answer to a `tool_call`: its return value (any JSON value), or the error Python raises as ToolError. */
export interface ToolResultFrame {
  type: "tool_result";
  call_id: string;
  value?: unknown;
  error?: string;
}

/** A fresh token for the same user and tenant, before the connection's token expires. */
export interface AuthFrame {
  type: "auth";
  token: string;
}

export type ClientFrame =
  | ExecuteFrame
  | InterruptFrame
  | SetVarsFrame
  | AddContextFrame
  | AddHistoryFrame
  | ResetFrame
  | CloseFrame
  | PingFrame
  | InputReplyFrame
  | InstallFrame
  | SetToolsFrame
  | ToolResultFrame
  | AuthFrame;

// ---- server to client ----

export interface SessionLimits {
  /** Seconds. */
  execution_timeout: number;
  max_execution_timeout: number;
  idle_timeout: number;
  max_queued_cells: number;
  max_frame_bytes: number;
  max_output_bytes: number;
  memory_mb: number;
  replay_buffer_bytes: number;
  /** The largest file the session's files API takes or gives (MAX_FILE_BYTES). */
  max_file_bytes: number;
}

export interface SessionFrame {
  type: "session";
  session_id: string;
  /** True when this connection attached to a session that already existed. */
  resumed: boolean;
  /** The newest seq the session has issued: attach with `?since=` this to miss nothing. */
  last_seq: number;
  limits: SessionLimits;
  /**
   * Present when the session's server died and the session came back from its last checkpoint
   * (CHECKPOINT_AFTER): work after that execution count is lost.
   */
  restored_from_checkpoint?: { execution_count: number };
  /**
   * The ids of the work the session has queued or running: after a reconnect, a request the
   * client sent that is neither here nor answered in the replay never reached the server.
   */
  work_ids: string[];
}

export interface StreamFrame {
  type: "stream";
  seq: number;
  id: string;
  name: StreamName;
  text: string;
}

/**
 * A MIME bundle, as Jupyter has it: "text/plain" always; "text/html", "text/markdown",
 * "image/svg+xml", "text/latex" as text; "image/png" and "image/jpeg" as base64 text;
 * "application/json" as a JSON value.
 */
export type MimeBundle = Record<string, unknown>;

/** Rich output a running cell displayed (display(), IPython.display): in order with its streams. */
export interface DisplayFrame {
  type: "display";
  seq: number;
  id: string;
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** Present when the output may be replaced later by one with the same display_id. */
  display_id?: string;
  /** This replaces the output shown under display_id. */
  update?: true;
}

/** The cell cleared its output (IPython.display.clear_output); `wait`: clear once the next output arrives. */
export interface ClearOutputFrame {
  type: "clear_output";
  seq: number;
  id: string;
  wait: boolean;
}

/** The cell waits in input() (or getpass(), `password`) until a client sends `input_reply`. */
export interface InputRequestFrame {
  type: "input_request";
  seq: number;
  id: string;
  prompt: string;
  password: boolean;
}

/**
 * Python in the running cell `id` called a declared tool and waits for its `tool_result`. Any
 * attached client that declared tools may answer; the first answer counts. Python gets a
 * ToolError when no such client is connected for TOOL_CLIENT_TIMEOUT, and the cell's deadline
 * and interrupt end the wait as they end the cell.
 */
export interface ToolCallFrame {
  type: "tool_call";
  seq: number;
  id: string;
  /** Unique in the session; the tool_result names it. */
  call_id: string;
  name: string;
  /** Positional arguments, as JSON values. */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
}

export interface CellError {
  type: string;
  message: string;
  traceback: string;
}

/** One model call a cell made (llm_query, rlm_query, or a child RLM's own calls). */
export interface RlmCall {
  model: string;
  /** From the API's usage. */
  prompt_tokens: number;
  completion_tokens: number;
  /** Seconds. */
  duration: number;
  /** 1 for a session's own llm_query; deeper for calls of child RLMs (rlm_query). */
  depth: number;
  /** False when the call failed (Python got an "Error: ..." text). */
  ok: boolean;
  /**
   * Only in sessions opened with `rlm_call_text: true`: what was sent (the prompt, or the
   * messages of a child RLM's turn) and the answer's text, each cut to RLM_CALL_TEXT_CHARS.
   */
  prompt?: string | { role: string; content: string }[];
  response?: string;
}

/** How much of a call's prompt and response text a result carries (each; a longer one is cut, saying so). */
export const RLM_CALL_TEXT_CHARS = 64 * 1024;

export interface ResultFrame {
  type: "result";
  seq: number;
  id: string;
  success: boolean;
  stdout: string;
  stderr: string;
  /** repr of the cell's trailing expression; null when there is none or it is None. */
  value: string | null;
  locals: Record<string, unknown> | null;
  execution_count: number;
  /** Seconds. */
  execution_time: number;
  error: CellError | null;
  /** False when the interpreter was restarted: the session's variables are gone. */
  state_preserved: boolean;
  /** Output past MAX_OUTPUT_BYTES that was dropped. */
  output_dropped_bytes: number;
  /** The cell's final answer (FINAL_VAR(...), or `answer = {"content": ..., "ready": True}`), as text. */
  final_answer: string | null;
  /**
   * Parts cut to fit the result's caps: "value", "error.message", "error.traceback",
   * "final_answer" (each cut text ends in "... (N more characters)"), "locals" (variables left out),
   * "locals_names" (names cut). Empty when nothing was cut.
   */
  truncated: string[];
  /** The model calls the cell made, in the order they finished. */
  rlm_calls: RlmCall[];
  /** The trailing expression's MIME bundle (its _repr_html_, _repr_png_, ... and text/plain); null when `value` is. */
  data: MimeBundle | null;
}

export const ERROR_CODES = [
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "session_not_found",
  "file_not_found",
  "session_expired",
  "session_lost",
  "server_draining",
  "busy",
  "quota_exceeded",
  "too_large",
  "replay_gap",
  "sandbox_failed",
  "store_unavailable",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorFrame {
  type: "error";
  /** Present when the error is part of the session's history (it concerns a cell). */
  seq?: number;
  id?: string;
  code: ErrorCode;
  message: string;
}

/** Why a session ended; `lost`: its saved state is gone (the snapshot it would wake from is no longer stored). */
export type EvictionReason = "idle" | "lifetime" | "memory" | "shutdown" | "closed" | "lost";

export interface EvictedFrame {
  type: "evicted";
  seq: number;
  reason: EvictionReason;
  /**
   * The session itself lives on (its server is draining and saved it): reconnect to the same
   * session id, through any server, and it wakes with every variable. The SDK does this itself.
   */
  resumable?: boolean;
}

export interface PongFrame {
  type: "pong";
  id?: string;
}

/** The connection now runs on the token of an `auth` frame. */
export interface AuthenticatedFrame {
  type: "authenticated";
  /** When the new token expires (ms since the epoch); the connection closes then with 4001. */
  expires_at: number;
}

export type ServerFrame = SessionFrame | StreamFrame | DisplayFrame | ClearOutputFrame | InputRequestFrame | ToolCallFrame | ResultFrame | ErrorFrame | EvictedFrame | PongFrame | AuthenticatedFrame;

/** Body of an HTTP error answer (a refused upgrade, a REST call). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** For authentication failures: which check failed (missing_token, token_expired, ...). */
  reason?: string;
}

/** One session in `GET /v1/sessions`: metadata only. */
export interface SessionSummary {
  session_id: string;
  tenant: string;
  user: string;
  /** ISO 8601. */
  created_at: string;
  last_active_at: string;
  cell_count: number;
  running: boolean;
  /** Saved to the store with its interpreter freed; the next cell or attach wakes it with every variable. */
  hibernated: boolean;
  attached_clients: number;
}

/** HTTP status for each error code when it answers an HTTP request or a refused upgrade. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  file_not_found: 404,
  session_expired: 410,
  session_lost: 410,
  server_draining: 503,
  busy: 409,
  quota_exceeded: 429,
  too_large: 413,
  replay_gap: 409,
  sandbox_failed: 502,
  store_unavailable: 503,
  internal: 500,
};

/** WebSocket close codes the server uses. */
export const CLOSE = {
  normal: 1000,
  /** Past a rate limit (FRAME_RATE, BYTE_RATE_MB); the reason names it. */
  policy: 1008,
  tooLarge: 1009,
  /** The server failed on a bug while attaching the connection (it is logged); reconnect. */
  internal: 1011,
  restarting: 1012,
  tokenExpired: 4001,
} as const;
