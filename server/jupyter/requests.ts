// What a client asks of the kernel: a message's type and content, checked field by field and
// made a typed request, with Jupyter's defaults for what it left out. Fields this door does not
// know are ignored (clients of newer protocol versions send more); known ones of the wrong type
// are refused, naming the field.
import { boolean, count, fieldProblem, jsonObject, nullable, oneOf, optional, string, type Check } from "../../protocol/schema.ts";

export type HistoryQuery =
  /** The last `n` inputs. */
  | { access: "tail"; n: number }
  /** Inputs `start` to `stop` (exclusive) of history session `session` (0: the current one). */
  | { access: "range"; session: number; start: number; stop: number | null }
  /** Inputs matching a glob pattern (`*`, `?`, `[...]`); the last `n`, and each text once when `unique`. */
  | { access: "search"; pattern: string; n: number | null; unique: boolean };

export type KernelRequest =
  | { type: "kernel_info" }
  | { type: "execute"; code: string; silent: boolean; storeHistory: boolean; stopOnError: boolean; allowStdin: boolean }
  | { type: "complete"; code: string; cursor: number }
  | { type: "inspect"; code: string; cursor: number; detail: 0 | 1 }
  | { type: "is_complete"; code: string }
  | { type: "history"; query: HistoryQuery; output: boolean }
  | { type: "comm_info" }
  | { type: "comm_open"; commId: string }
  /** comm_msg and comm_close: no comm is ever open here, so there is nothing to do. */
  | { type: "comm_ignored" }
  | { type: "shutdown"; restart: boolean }
  | { type: "interrupt" }
  | { type: "input_reply"; value: string };

export type ParsedRequest = { ok: true; request: KernelRequest } | { ok: false; problem: string };

/** How many inputs a tail request gets when it names no number (IPython's default). */
const DEFAULT_TAIL = 10;

const integer: Check = (value) => (Number.isSafeInteger(value) ? null : "must be a whole number");
const positionIn = (code: string, cursor: number | undefined) => Math.min(cursor ?? code.length, code.length);

export function parseRequest(msgType: string, content: Record<string, unknown>): ParsedRequest {
  const check = (fields: Record<string, Check>, build: () => KernelRequest): ParsedRequest => {
    const problem = fieldProblem(content, fields, Object.keys(content));
    return problem === null ? { ok: true, request: build() } : { ok: false, problem: `${msgType}: ${problem}` };
  };
  const field = <T>(name: string, fallback: T): T => (content[name] === undefined ? fallback : (content[name] as T));
  switch (msgType) {
    case "kernel_info_request":
      return { ok: true, request: { type: "kernel_info" } };
    case "execute_request":
      return check(
        { code: string, silent: optional(boolean), store_history: optional(boolean), stop_on_error: optional(boolean), allow_stdin: optional(boolean), user_expressions: optional(jsonObject) },
        () => {
          const silent = field("silent", false);
          // A silent cell is never stored, whatever it says (the protocol forces it).
          return { type: "execute", code: content.code as string, silent, storeHistory: !silent && field("store_history", true), stopOnError: field("stop_on_error", true), allowStdin: field("allow_stdin", true) };
        },
      );
    case "complete_request":
      return check({ code: string, cursor_pos: optional(count) }, () => ({ type: "complete", code: content.code as string, cursor: positionIn(content.code as string, field<number | undefined>("cursor_pos", undefined)) }));
    case "inspect_request":
      return check({ code: string, cursor_pos: optional(count), detail_level: optional(oneOfNumbers([0, 1])) }, () => ({
        type: "inspect",
        code: content.code as string,
        cursor: positionIn(content.code as string, field<number | undefined>("cursor_pos", undefined)),
        detail: field<0 | 1>("detail_level", 0),
      }));
    case "is_complete_request":
      return check({ code: string }, () => ({ type: "is_complete", code: content.code as string }));
    case "history_request":
      return check(
        {
          hist_access_type: oneOf(["tail", "range", "search"]),
          output: optional(boolean),
          raw: optional(boolean),
          session: optional(nullable(integer)),
          start: optional(nullable(count)),
          stop: optional(nullable(count)),
          n: optional(nullable(count)),
          pattern: optional(nullable(string)),
          unique: optional(boolean),
        },
        () => ({ type: "history", query: historyQuery(content), output: field("output", false) }),
      );
    case "comm_info_request":
      return check({ target_name: optional(nullable(string)) }, () => ({ type: "comm_info" }));
    case "comm_open":
      return check({ comm_id: string, target_name: string }, () => ({ type: "comm_open", commId: content.comm_id as string }));
    case "comm_msg":
    case "comm_close":
      return check({ comm_id: string }, () => ({ type: "comm_ignored" }));
    case "shutdown_request":
      return check({ restart: optional(boolean) }, () => ({ type: "shutdown", restart: field("restart", false) }));
    case "interrupt_request":
      return { ok: true, request: { type: "interrupt" } };
    case "input_reply":
      return check({ value: string }, () => ({ type: "input_reply", value: content.value as string }));
    default:
      return { ok: false, problem: `this kernel does not answer ${JSON.stringify(msgType.slice(0, 60))} messages` };
  }
}

function historyQuery(content: Record<string, unknown>): HistoryQuery {
  const value = <T>(name: string, fallback: T): T => (content[name] === undefined || content[name] === null ? fallback : (content[name] as T));
  switch (content.hist_access_type as HistoryQuery["access"]) {
    case "tail":
      return { access: "tail", n: value("n", DEFAULT_TAIL) };
    case "range":
      return { access: "range", session: value("session", 0), start: value("start", 0), stop: value<number | null>("stop", null) };
    case "search":
      return { access: "search", pattern: value("pattern", "*"), n: value<number | null>("n", null), unique: value("unique", false) };
  }
}

function oneOfNumbers(allowed: readonly number[]): Check {
  return (value) => (allowed.includes(value as number) ? null : `must be one of ${allowed.join(", ")}`);
}
