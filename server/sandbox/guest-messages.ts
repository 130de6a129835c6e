// What the host accepts from a guest. Python controls the guest's worker, so every message is
// checked field by field before the host acts on it, against the same caps the guest is meant to
// cut to (RESULT_CAPS, MAX_OUTPUT_BYTES): a message that does not fit ends the sandbox.
import { boolean, boundedString, count, fieldProblem, jsonObject, listOf, nullable, number, oneOf, shape, type Check } from "../../protocol/schema.ts";
import { FILE_CAPS, FILE_FAILURES, INPUT_CAPS, TOOL_CAPS, INTROSPECT_CAPS, MAX_PROMPT_CHARS, RESULT_CAPS, TRUNCATED_PARTS, type GuestMessage } from "./ipc.ts";

/** Prompts one llm_query_batched may send at once. */
export const MAX_BATCH_PROMPTS = 1000;
/** Room for the "... (N more characters)" note the guest appends where it cuts. */
const CUT_NOTE = 64;
/** A guest's fatal and snapshot_failed descriptions (the worker cuts them shorter). */
const MAX_DIAGNOSTIC_CHARS = 8192;

/** A string of at most `chars` Python characters: up to two UTF-16 units each, plus the cut's note. */
function capped(chars: number): Check {
  return boundedString(0, 2 * chars + CUT_NOTE);
}

const cellError = shape({ type: capped(RESULT_CAPS.nameChars), message: capped(RESULT_CAPS.errorChars), traceback: capped(RESULT_CAPS.errorChars) });

const prompts: Check = (value) => {
  const problem = listOf(boundedString(0, MAX_PROMPT_CHARS), MAX_BATCH_PROMPTS)(value);
  if (problem) return problem;
  const total = (value as string[]).reduce((sum, prompt) => sum + prompt.length, 0);
  return total <= MAX_PROMPT_CHARS ? null : `must hold at most ${MAX_PROMPT_CHARS} characters in all`;
};

/** A MIME type, as the guest's display.py makes one. */
const MIME_TYPE = /^[A-Za-z0-9][\w.+-]*\/[\w.+-]+$/;
const MAX_MIME_CHARS = 100;

/** MIME types for keys; text and images (base64) as strings, anything else any JSON. */
const mimeBundle: Check = (value) => {
  const problem = jsonObject(value);
  if (problem) return problem;
  for (const [mime, entry] of Object.entries(value as object)) {
    if (mime.length > MAX_MIME_CHARS || !MIME_TYPE.test(mime)) return `has a key that is not a MIME type: ${JSON.stringify(mime.slice(0, 40))}`;
    if ((mime.startsWith("text/") || mime.startsWith("image/")) && typeof entry !== "string") return `has ${mime} that is not a string`;
  }
  return null;
};

/** A value whose JSON takes at most `chars` characters. */
function within(check: Check, chars: number): Check {
  return (value) => check(value) ?? (JSON.stringify(value).length <= chars ? null : `must take at most ${chars} characters as JSON`);
}

/** One of several shapes, told apart by their `kind`. */
function tagged(shapes: Record<string, Record<string, Check>>): Check {
  const kinds = Object.keys(shapes);
  return (value) => {
    const problem = jsonObject(value);
    if (problem) return problem;
    const kind = (value as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !Object.hasOwn(shapes, kind)) return `kind must be one of ${kinds.map((name) => `"${name}"`).join(", ")}`;
    return shape({ kind: oneOf([kind]), ...shapes[kind] })(value);
  };
}

/** Every key of a locals summary within the name cap (values are bounded by the whole result). */
const localsSummary: Check = (value) => {
  const problem = jsonObject(value);
  if (problem) return problem;
  const long = Object.keys(value as object).find((name) => name.length > 2 * RESULT_CAPS.nameChars + CUT_NOTE);
  return long === undefined ? null : `has a name of ${long.length} characters`;
};

/**
 * The limits a guest's frames are held to; `heapBytes` bounds the bodies: a snapshot (the heap
 * and the files beside it share the cap), a file read (its request's max_bytes, held within the cap).
 */
export function guestFrameLimits(maxOutputBytes: number, heapBytes: number): { maxHeaderBytes: number; maxFrameBytes: number } {
  // JSON may spell one byte of a stream as six ("\u0000"; a display's bytes are counted as JSON);
  // the result and prompts as they are capped.
  const maxHeaderBytes = Math.max(6 * maxOutputBytes, RESULT_CAPS.resultBytes, 3 * MAX_PROMPT_CHARS) + 64 * 1024;
  return { maxHeaderBytes, maxFrameBytes: maxHeaderBytes + heapBytes };
}

/** The guest messages that may carry bytes beside them: a snapshot, and a file read's reply. */
export const MESSAGES_WITH_BODY: ReadonlySet<GuestMessage["type"]> = new Set(["snapshot", "file_reply"]);

/** A message and the interpreter (worker) of the process that sent it. */
export interface GuestEnvelope {
  worker: number;
  message: GuestMessage;
}

/**
 * A check of every guest message against the sandbox's own output cap: the message, typed, with
 * the worker it came from; or a description of why it is not a valid guest message.
 */
export function guestMessageChecker(maxOutputBytes: number): (frame: Record<string, unknown>) => GuestEnvelope | string {
  const schemas: Record<GuestMessage["type"], Record<string, Check>> = {
    ready: { boot_ms: number, pyodide: capped(RESULT_CAPS.nameChars) },
    stream: { cell: count, name: oneOf(["stdout", "stderr"]), text: boundedString(0, maxOutputBytes) },
    display: {
      cell: count,
      message: within(
        tagged({
          display: { data: mimeBundle, metadata: jsonObject, display_id: nullable(capped(RESULT_CAPS.nameChars)), update: boolean },
          clear_output: { wait: boolean },
        }),
        maxOutputBytes,
      ),
    },
    result: {
      cell: count,
      success: boolean,
      value: nullable(capped(RESULT_CAPS.stringChars)),
      locals: nullable(localsSummary),
      execution_count: count,
      execution_time: number,
      error: nullable(cellError),
      output_dropped_bytes: count,
      final_answer: nullable(boundedString(0, RESULT_CAPS.resultBytes)),
      truncated: listOf(oneOf(TRUNCATED_PARTS), TRUNCATED_PARTS.length),
      data: nullable(within(mimeBundle, maxOutputBytes)),
    },
    applied: { cell: count, error: nullable(cellError) },
    introspected: {
      cell: count,
      reply: tagged({
        complete: { matches: listOf(boundedString(0, 2 * INTROSPECT_CAPS.matchChars), INTROSPECT_CAPS.matches), cursor_start: count, cursor_end: count },
        inspect: { found: boolean, data: within(mimeBundle, 4 * INTROSPECT_CAPS.inspectChars) },
        is_complete: { status: oneOf(["complete", "incomplete", "invalid"]), indent: boundedString(0, 2 * INTROSPECT_CAPS.indentChars) },
      }),
    },
    file_reply: {
      cell: count,
      reply: tagged({
        done: {},
        content: { bytes: count },
        listing: {
          files: within(listOf(shape({ path: boundedString(1, FILE_CAPS.pathChars), size: count }), FILE_CAPS.listEntries), FILE_CAPS.listChars + 2),
          truncated: boolean,
        },
        failed: { failure: oneOf(FILE_FAILURES), message: boundedString(0, FILE_CAPS.messageChars) },
      }),
    },
    llm_request: { cell: count, call: count, prompts, model: nullable(capped(RESULT_CAPS.nameChars)), recursive: boolean },
    input_request: { cell: count, call: count, prompt: capped(INPUT_CAPS.promptChars), password: boolean },
    tool_request: { cell: count, call: count, name: boundedString(1, TOOL_CAPS.nameChars), args: boundedString(2, TOOL_CAPS.argsChars) },
    snapshot: { bytes: count },
    snapshot_failed: { message: boundedString(0, MAX_DIAGNOSTIC_CHARS) },
    fatal: { cause: oneOf(["boot_failed", "memory_limit", "stack_overflow", "interpreter_fatal"]), message: boundedString(0, MAX_DIAGNOSTIC_CHARS) },
    exited: {},
  };
  return (frame) => {
    const { type, worker, ...fields } = frame;
    if (typeof type !== "string" || !Object.hasOwn(schemas, type)) return `unknown message type ${JSON.stringify(type)?.slice(0, 40)}`;
    if (count(worker) !== null) return `${type}.worker ${count(worker)}`;
    const problem = fieldProblem(fields, schemas[type as GuestMessage["type"]]);
    if (problem) return `${type}.${problem}`;
    const message = { type, ...fields } as unknown as GuestMessage;
    // The whole result within its cap: locals and the final answer share what the rest leaves
    // (the value's bundle is bounded by the output cap instead).
    if (type === "result" && JSON.stringify({ ...message, data: null }).length > RESULT_CAPS.resultBytes + 1024) return `result is over ${RESULT_CAPS.resultBytes} bytes`;
    return { worker: worker as number, message };
  };
}
