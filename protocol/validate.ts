// Runtime validation of client frames. Every refusal says which field is wrong and what it wants.
import type { ClientFrame } from "./frames.ts";
import { jsonDepthProblem, parseJson, preview } from "./json.ts";
import { boolean, boundedString, count, fieldProblem, jsonObject, oneOf, optional, positive, present, string, type Check } from "./schema.ts";

export type Parsed = { ok: true; frame: ClientFrame } | { ok: false; message: string };

export const MAX_ID_LENGTH = 128;
const id = boundedString(1, MAX_ID_LENGTH);
const payload = { id: optional(id), payload: present, index: optional(count), more: optional(boolean), offset: optional(count), json: optional(boolean) };

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
  // JSON text in a payload is a JSON input too (decoded in Python, whose parser recursion can end
  // the sandbox); a chunked one is checked once joined (see the session's receivePayload).
  const deep = fields.json === true && fields.more !== true && fields.offset === undefined && jsonDepthProblem(fields.payload as string);
  if (deep) return { ok: false, message: `${type}.payload is JSON text that ${deep}` };
  return { ok: true, frame: fields as unknown as ClientFrame };
}
