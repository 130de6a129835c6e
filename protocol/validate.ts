// Runtime validation of client frames. Every refusal says which field is wrong and what it wants.
import type { ClientFrame } from "./frames.ts";
import { jsonDepthProblem, parseJson, preview } from "./json.ts";
import { boolean, boundedString, count, fieldProblem, jsonObject, listOf, oneOf, optional, positive, shape, string, present, type Check } from "./schema.ts";

export type Parsed = { ok: true; frame: ClientFrame } | { ok: false; message: string };

export const MAX_ID_LENGTH = 128;
const id = boundedString(1, MAX_ID_LENGTH);
const payload = { id: optional(id), payload: present, index: optional(count), more: optional(boolean), offset: optional(count), json: optional(boolean) };

/** A wheel's file name as the install frame takes it. */
const MAX_WHEEL_NAME = 255;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const base64: Check = (value) => (typeof value === "string" && value.length % 4 === 0 && BASE64.test(value) ? null : "must be base64 text");

/**
 * Names Python already uses for the session's own functions and values: a tool may not shadow
 * them (the RLM library reserves the same, and wasm-repl's display and tools helpers).
 */
export const RESERVED_TOOL_NAMES: readonly string[] = [
  "llm_query", "llm_query_batched", "rlm_query", "rlm_query_batched", "SHOW_VARS", "FINAL", "FINAL_VAR",
  "answer", "context", "history", "tools", "ToolError", "display", "print", "input",
];
export const MAX_TOOLS = 64;
export const MAX_TOOL_DESCRIPTION = 4096;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** What is wrong with `value` as a tool's name ("must be ..."), or null (SDKs check before they send). */
export const toolNameProblem: Check = (value) =>
  typeof value !== "string" || !IDENTIFIER.test(value)
    ? "must be a Python identifier of at most 64 characters"
    : RESERVED_TOOL_NAMES.includes(value) || value.startsWith("_")
      ? `must not be one of the session's own names (${RESERVED_TOOL_NAMES.join(", ")}) nor start with "_"`
      : null;
const tool = shape({ name: toolNameProblem, description: optional(boundedString(0, MAX_TOOL_DESCRIPTION)) });
const MAX_TOOL_ERROR = 64 * 1024;

const SCHEMAS: Record<ClientFrame["type"], Record<string, Check>> = {
  execute: { id, code: string, timeout: optional(positive), locals: optional(oneOf(["all", "changed", "none"])) },
  interrupt: { id: optional(id) },
  set_vars: { id: optional(id), vars: jsonObject },
  add_context: payload,
  add_history: payload,
  reset: { id: optional(id) },
  close: {},
  ping: { id: optional(id) },
  input_reply: { id, value: string },
  install: { id: optional(id), filename: boundedString(1, MAX_WHEEL_NAME), wheel: base64 },
  set_tools: { id: optional(id), tools: listOf(tool, MAX_TOOLS) },
  tool_result: { call_id: id, value: () => null, error: optional(boundedString(0, MAX_TOOL_ERROR)) },
  auth: { token: string },
};

export const CLIENT_FRAME_TYPES = Object.keys(SCHEMAS) as ClientFrame["type"][];

/** Parses and checks one text frame from a client. */
export function parseClientFrame(data: string): Parsed {
  const parsed = parseJson(data);
  if (!parsed.ok) return { ok: false, message: `the frame ${parsed.message}` };
  const { value } = parsed;
  if (jsonObject(value)) return { ok: false, message: "the frame must be a JSON object with a \"type\" field" };
  const fields = value as Record<string, unknown>;
  const type = fields.type;
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) {
    return { ok: false, message: `unknown frame type ${preview(type)}; expected one of ${CLIENT_FRAME_TYPES.join(", ")}` };
  }
  const problem = fieldProblem(fields, SCHEMAS[type as ClientFrame["type"]], ["type"]);
  if (problem) return { ok: false, message: `${type}.${problem}` };
  if ((fields.more === true || fields.json === true) && typeof fields.payload !== "string") {
    return { ok: false, message: `${type}.payload must be a string when more or json is set (chunks and JSON text are strings)` };
  }
  if (type === "set_tools") {
    const names = (fields.tools as { name: string }[]).map(({ name }) => name);
    const twice = names.find((name, index) => names.indexOf(name) !== index);
    if (twice) return { ok: false, message: `set_tools.tools names ${twice} twice` };
  }
  if (type === "tool_result" && (fields.value === undefined) === (fields.error === undefined)) {
    return { ok: false, message: "tool_result must carry either value (the tool's return value) or error (why it failed), not both nor neither" };
  }
  // JSON text in a payload is a JSON input too (decoded in Python, whose parser recursion can end
  // the sandbox); a chunked one is checked once joined (see the session's receivePayload).
  const deep = fields.json === true && fields.more !== true && fields.offset === undefined && jsonDepthProblem(fields.payload as string);
  if (deep) return { ok: false, message: `${type}.payload is JSON text that ${deep}` };
  return { ok: true, frame: fields as unknown as ClientFrame };
}
