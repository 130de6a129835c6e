// The framed protocol between the server and a sandbox process over stdio.
// Imported by both sides: the Node host and the Deno guest, so it uses only web-standard APIs.
//
// A frame is: u32 LE length of a JSON header, u32 LE length of a binary body, the frame key (guest
// to host only), the header, the body. The body carries bytes that would bloat as JSON (snapshots,
// payloads, files).
//
// Python can write raw bytes to the process's stdout (Pyodide's Node file-system layer reaches
// fd 1), so frames from the guest carry a random key that only the host and the guest's main
// thread know: bytes Python forges lack it, and the host treats them as a protocol violation.

/**
 * How the host starts a sandbox process (passed as its only argument). "build" makes the base
 * snapshot and exits; "serve" hosts interpreters, each on a worker of its own, all of one
 * identity (see sandbox-process.ts), until the host closes stdin.
 */
export interface ProcessSettings {
  mode: "build" | "serve";
  indexURL: string;
  /** The base snapshot every fresh interpreter is restored from (serve); unused by build. */
  snapshotPath: string;
  /**
   * The package repository (a Pyodide lock file and its wheels): its lock file replaces Pyodide's,
   * and the process's main thread hands its files to the interpreters. Null: none.
   */
  packagesDir: string | null;
  /** The largest wheel a session may install of its own. */
  maxWheelBytes: number;
}

/** One interpreter's start (the `spawn` frame): fresh from the base snapshot, or restored from a session's. */
export interface InterpreterSettings {
  /** The frame's body is a session's snapshot to restore; otherwise the base snapshot is used. */
  restore: boolean;
  memoryCapBytes: number;
  maxOutputBytes: number;
}

export type LocalsMode = "all" | "changed" | "none";
export type StreamName = "stdout" | "stderr";

/**
 * Caps of a cell's result. The guest cuts to them and says what it cut (`truncated`); the host
 * checks them again, because the guest is not trusted (guest-messages.ts).
 */
export const RESULT_CAPS = {
  /** `value` (the trailing expression's repr) and every string in a locals summary, in characters. */
  stringChars: 1000,
  /** A locals name, a dict key in a summary, an error's type. */
  nameChars: 100,
  /** An error's message, and its traceback, each. */
  errorChars: 10_000,
  /** The whole result as JSON: locals and the final answer share what the rest leaves. */
  resultBytes: 1024 * 1024,
} as const;

/** Text one llm_request may carry, all prompts together (a prompt may hold a whole context). */
export const MAX_PROMPT_CHARS = 16 * 1024 * 1024;

/** input()'s prompt (the guest cuts it to this), and its answer (the host refuses a longer one), in characters. */
export const INPUT_CAPS = { promptChars: 4096, answerChars: 1024 * 1024 } as const;

/**
 * A tool call's caps: the arguments' JSON (the guest refuses more with ToolError; the host
 * checks), and the value's JSON that comes back (the host answers an error instead).
 */
export const TOOL_CAPS = { argsChars: 1024 * 1024, valueChars: 16 * 1024 * 1024, names: 64, nameChars: 64, errorChars: 64 * 1024 } as const;

/** The host's answer to a tool call: the value's JSON text, or why there is none (Python raises ToolError). */
export type ToolAnswer = { value: string } | { error: string };

/** The host's answer to input(): the line read, or why there is none (Python raises EOFError). */
export type InputAnswer = { text: string } | { error: string };

/** A question about the session's code and names, answered between cells without running one. */
export type IntrospectRequest =
  | { kind: "complete"; code: string; cursor: number }
  | { kind: "inspect"; code: string; cursor: number; detail: 0 | 1 }
  | { kind: "is_complete"; code: string };

/** The answer to an IntrospectRequest of the same kind; cursors count the code's characters (code points). */
export type IntrospectReply =
  | { kind: "complete"; matches: string[]; cursor_start: number; cursor_end: number }
  | { kind: "inspect"; found: boolean; data: MimeBundle }
  | { kind: "is_complete"; status: "complete" | "incomplete" | "invalid"; indent: string };

/** Caps of an IntrospectReply, in characters: the guest cuts to them (drops longer matches), the host checks. */
export const INTROSPECT_CAPS = { matches: 1000, matchChars: 500, inspectChars: 64 * 1024, indentChars: 256 } as const;

/** Parts of a result that were cut to fit RESULT_CAPS. */
export type TruncatedPart = "value" | "error.message" | "error.traceback" | "final_answer" | "locals" | "locals_names";
export const TRUNCATED_PARTS: readonly TruncatedPart[] = ["value", "error.message", "error.traceback", "final_answer", "locals", "locals_names"];

/**
 * A MIME bundle as Jupyter has it: "text/plain" always when there is a value; "text/html",
 * "text/markdown", "image/svg+xml", "image/png" / "image/jpeg" (base64 text), "application/json"
 * (a JSON value), "text/latex".
 */
export type MimeBundle = Record<string, unknown>;

/**
 * Rich output a cell sends while it runs (display(), clear_output()). Each counts against the
 * cell's output cap as its JSON: the guest counts UTF-8 bytes, the host the same text's UTF-16
 * units, which are never more.
 */
export type DisplayMessage =
  | { kind: "display"; data: MimeBundle; metadata: Record<string, unknown>; display_id: string | null; update: boolean }
  | { kind: "clear_output"; wait: boolean };

export interface CellError {
  type: string;
  message: string;
  traceback: string;
}

export type LocalsSummary = Record<string, unknown>;

/** What the guest reports when a cell ends on its own (the host adds what only it can know). */
export interface GuestCellResult {
  cell: number;
  success: boolean;
  stdout: string;
  stderr: string;
  value: string | null;
  locals: LocalsSummary | null;
  execution_count: number;
  execution_time: number;
  error: CellError | null;
  output_dropped_bytes: number;
  /** What the cell gave as its final answer (FINAL_VAR, or `answer["ready"]`), as text. */
  final_answer: string | null;
  /** Which parts were cut to fit RESULT_CAPS ("locals": some variables left out). */
  truncated: TruncatedPart[];
  /**
   * The trailing value's bundle: null when there is no value, or when its JSON is over the output
   * cap, which it has to itself (RESULT_CAPS leave it out); then counted in output_dropped_bytes.
   */
  data: MimeBundle | null;
}

/**
 * The interpreter's working directory: Python starts in it, a session's files live in it, and a
 * snapshot carries it (nothing else of the interpreter's file system persists).
 */
export const WORKING_DIRECTORY = "/home/pyodide";

/**
 * What the host asks of the working directory. Paths are relative to it, without `.` or `..`
 * segments (the host checks them); `list` and `mkdir` take "" for the directory itself.
 */
export type FileRequest =
  | { kind: "write"; path: string } // body: the file's bytes; parent directories are made
  | { kind: "read"; path: string; max_bytes: number }
  | { kind: "delete"; path: string }
  | { kind: "mkdir"; path: string } // with its parents; an existing directory is no error
  | { kind: "list"; path: string }; // the regular files under the directory, at any depth

/** A regular file under the working directory: its path relative to it, and its size. */
export interface FileEntry {
  path: string;
  size: number;
}

/**
 * Why a file request failed: nothing at the path; something that is not a regular file (a
 * directory, a link) at the path or on the way to it; a file over the read's max_bytes; or a
 * write after which the session's files and heap would take more than its memory cap.
 */
export type FileFailure = "missing" | "not_a_file" | "too_large" | "full";
export const FILE_FAILURES: readonly FileFailure[] = ["missing", "not_a_file", "too_large", "full"];

/** The answer to a FileRequest: `done` (write, delete, mkdir), `content` (read), `listing` (list), or `failed`. */
export type FileReply =
  | { kind: "done" }
  | { kind: "content"; bytes: number } // body: the file's bytes
  | { kind: "listing"; files: FileEntry[]; truncated: boolean }
  | { kind: "failed"; failure: FileFailure; message: string };

/**
 * Caps of file requests and replies: a path's characters; a listing's entries, and its JSON's
 * characters (the guest stops there and says `truncated`; the host checks).
 */
export const FILE_CAPS = { pathChars: 1024, listEntries: 10_000, listChars: 1024 * 1024, messageChars: 2048 } as const;

/** Where an add_context payload goes: context_N or history_N. */
export type ContextKind = "context" | "history";

/** A blocking call Python made (llm_query and friends); the host answers each prompt with text. */
export interface LlmRequest {
  prompts: string[];
  model: string | null;
  /** rlm_query: a child RLM where the depth allows, else a plain completion. */
  recursive: boolean;
}

export const FRAME_KEY_BYTES = 16;

/** Host to an interpreter (every such frame names its worker, see WorkerFrame). */
export type HostMessage =
  | { type: "run"; cell: number; code: string; locals: LocalsMode }
  | { type: "set_vars"; cell: number; vars: Record<string, unknown> }
  // body: the payload's UTF-8 text (JSON text when `json`); answered by `applied`
  | { type: "add_context"; cell: number; kind: ContextKind; index: number | null; json: boolean }
  | { type: "llm_answer"; call: number; answers: string[] } // to the worker's waiting llm_request
  | { type: "input_answer"; call: number; answer: InputAnswer } // to the worker's waiting input_request
  | { type: "tool_answer"; call: number; answer: ToolAnswer } // to the worker's waiting tool_request
  // the tools a client declared: Python functions of these names (and tools.<name>); answered by `applied`
  | { type: "set_tools"; cell: number; tools: { name: string; description?: string }[] }
  | { type: "introspect"; cell: number; request: IntrospectRequest } // answered by `introspected`
  // load repository packages (lock file keys) and import them, outside any cell; answered by `applied`
  | { type: "load_packages"; cell: number; names: string[] }
  // body: a pure-Python wheel the session installs (`filename` is its name); answered by `applied`
  | { type: "install_wheel"; cell: number; filename: string }
  | { type: "file"; cell: number; request: FileRequest } // body: a write's bytes; answered by `file_reply`
  | { type: "set_env"; cell: number; env: Record<string, string> } // os.environ gets these; answered by `applied`
  | { type: "interrupt" }
  | { type: "snapshot" }; // take a snapshot of the live interpreter; it keeps running

/** Host to the sandbox process: its key first, then interpreters to start and stop. */
export type ProcessMessage =
  | { type: "hello"; key: string } // always first: the key the guest's frames must carry
  | ({ type: "spawn"; worker: number } & InterpreterSettings) // body: the snapshot when `restore`
  | { type: "kill"; worker: number }; // answered by `exited` once the worker is gone

/** Any frame the host sends: to the process, or to one of its interpreters. */
export type HostFrame = ProcessMessage | (HostMessage & { worker: number });

/** An interpreter to the host (the process adds `worker`: which interpreter it came from). */
export type GuestMessage =
  | { type: "ready"; boot_ms: number; pyodide: string }
  | { type: "stream"; cell: number; name: StreamName; text: string }
  | { type: "display"; cell: number; message: DisplayMessage }
  | ({ type: "result" } & GuestCellResult)
  | { type: "applied"; cell: number; error: CellError | null } // set_vars, add_context or set_env done
  | { type: "introspected"; cell: number; reply: IntrospectReply }
  | { type: "file_reply"; cell: number; reply: FileReply } // body: a read's bytes
  | ({ type: "llm_request"; cell: number; call: number } & LlmRequest)
  | { type: "input_request"; cell: number; call: number; prompt: string; password: boolean } // input(), getpass()
  // a declared tool called from Python; `args` is the JSON text of [positional, keyword]
  | { type: "tool_request"; cell: number; call: number; name: string; args: string }
  | { type: "snapshot"; bytes: number } // body: the snapshot
  | { type: "snapshot_failed"; message: string }
  | { type: "fatal"; cause: FatalCause; message: string }
  // from the process: the worker ended (after a kill, or a fatal error); nothing follows from it
  | { type: "exited" };

/** Why a guest gave up; the host adds causes it observes from outside (see sandbox.ts). */
export type FatalCause = "boot_failed" | "memory_limit" | "stack_overflow" | "interpreter_fatal";

const HEADER_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(message: object, body?: Uint8Array, key?: Uint8Array): Uint8Array {
  const head = encodeFrameHead(message, body?.byteLength ?? 0, key);
  if (!body) return head;
  const frame = new Uint8Array(head.byteLength + body.byteLength);
  frame.set(head);
  frame.set(body, head.byteLength);
  return frame;
}

/** A frame up to its body: a writer that can send the body after it saves copying a large one. */
export function encodeFrameHead(message: object, bodyLength: number, key?: Uint8Array): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const prefix = HEADER_BYTES + (key?.byteLength ?? 0);
  const head = new Uint8Array(prefix + json.byteLength);
  const view = new DataView(head.buffer);
  view.setUint32(0, json.byteLength, true);
  view.setUint32(4, bodyLength, true);
  if (key) head.set(key, HEADER_BYTES);
  head.set(json, prefix);
  return head;
}

export function keyToHex(key: Uint8Array): string {
  return Array.from(key, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function keyFromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export interface Frame<M> {
  message: M;
  body: Uint8Array | null;
}

/** Bodies this large come in a buffer of their own (snapshots): no copy of the stream around them. */
export const OWNED_BODY_BYTES = 1024 * 1024;

export class FrameTooLarge extends Error {}
export class FrameForged extends Error {}

/**
 * Reassembles frames from a byte stream. It never trusts the peer: a frame over `maxBytes`,
 * without the expected key, or whose header is not a JSON object throws, and the caller treats
 * the peer as broken. The key and size are checked before the body is buffered.
 */
export class FrameDecoder<M> {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly prefix: number;

  /** @param maxHeaderBytes the JSON header's own limit (the body carries only snapshots). */
  constructor(
    private readonly maxBytes: number,
    private readonly key: Uint8Array | null = null,
    private readonly maxHeaderBytes = maxBytes,
  ) {
    this.prefix = HEADER_BYTES + (key?.byteLength ?? 0);
  }

  push(chunk: Uint8Array): Frame<M>[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame<M>[] = [];
    for (;;) {
      if (this.buffered < this.prefix) return frames;
      const head = this.peek(this.prefix);
      const view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
      const jsonLength = view.getUint32(0, true);
      const bodyLength = view.getUint32(4, true);
      if (this.key && !sameBytes(head.subarray(HEADER_BYTES, this.prefix), this.key)) throw new FrameForged("a frame without the frame key");
      const total = this.prefix + jsonLength + bodyLength;
      if (jsonLength > this.maxHeaderBytes) throw new FrameTooLarge(`frame header of ${jsonLength} bytes exceeds ${this.maxHeaderBytes}`);
      if (total > this.maxBytes) throw new FrameTooLarge(`frame of ${total} bytes exceeds ${this.maxBytes}`);
      if (this.buffered < total) return frames;
      const header = this.take(this.prefix + jsonLength, false);
      const message: unknown = JSON.parse(decoder.decode(header.subarray(this.prefix)));
      if (typeof message !== "object" || message === null || Array.isArray(message)) {
        throw new TypeError("frame header is not a JSON object");
      }
      frames.push({ message: message as M, body: bodyLength > 0 ? this.take(bodyLength, bodyLength >= OWNED_BODY_BYTES) : null });
    }
  }

  private peek(length: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= length) return first;
    this.coalesce();
    return this.chunks[0]!;
  }

  /**
   * The next `length` bytes. A view into the buffered chunk when they lie in one and `owned` is
   * false; otherwise a buffer of exactly those bytes, which the caller may transfer.
   */
  private take(length: number, owned: boolean): Uint8Array {
    this.buffered -= length;
    const first = this.chunks[0]!;
    if (!owned && first.byteLength >= length) {
      if (first.byteLength === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    const taken = new Uint8Array(length);
    for (let filled = 0; filled < length; ) {
      const chunk = this.chunks[0]!;
      const part = chunk.subarray(0, length - filled);
      taken.set(part, filled);
      filled += part.byteLength;
      if (part.byteLength === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part.byteLength);
    }
    return taken;
  }

  private coalesce(): void {
    const all = new Uint8Array(this.buffered);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.chunks = [all];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let index = 0; index < a.byteLength; index++) difference |= a[index]! ^ b[index]!;
  return difference === 0;
}
