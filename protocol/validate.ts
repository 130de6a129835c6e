// Runtime validation of client frames. Every refusal says which field is wrong and what it wants.
import type { ClientFrame, LocalsMode } from "./frames.ts";

export type Parsed = { ok: true; frame: ClientFrame } | { ok: false; message: string };

const LOCALS_MODES: readonly LocalsMode[] = ["all", "changed", "none"];
export const MAX_ID_LENGTH = 128;

type Fields = Record<string, unknown>;
type Check = (value: unknown) => string | null;

const optional = (check: Check): Check => (value) => (value === undefined ? null : check(value));

const id: Check = (value) =>
  typeof value === "string" && value.length > 0 && value.length <= MAX_ID_LENGTH
    ? null
    : `must be a non-empty string of at most ${MAX_ID_LENGTH} characters`;

const text: Check = (value) => (typeof value === "string" ? null : "must be a string");

const positiveSeconds: Check = (value) =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? null : "must be a positive number of seconds";

const localsMode: Check = (value) =>
  LOCALS_MODES.includes(value as LocalsMode) ? null : `must be one of ${LOCALS_MODES.map((mode) => `"${mode}"`).join(", ")}`;

const object: Check = (value) =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? null : "must be a JSON object";

const SCHEMAS: Record<ClientFrame["type"], Record<string, Check>> = {
  execute: { id, code: text, timeout: optional(positiveSeconds), locals: optional(localsMode) },
  interrupt: { id: optional(id) },
  set_vars: { id: optional(id), vars: object },
  reset: { id: optional(id) },
  close: {},
  ping: { id: optional(id) },
};

export const CLIENT_FRAME_TYPES = Object.keys(SCHEMAS) as ClientFrame["type"][];

/** Parses and checks one text frame from a client. */
export function parseClientFrame(data: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    return { ok: false, message: `the frame is not valid JSON (${(error as Error).message})` };
  }
  if (object(value)) return { ok: false, message: "the frame must be a JSON object with a \"type\" field" };
  const fields = value as Fields;
  const type = fields.type;
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) {
    return { ok: false, message: `unknown frame type ${JSON.stringify(type)}; expected one of ${CLIENT_FRAME_TYPES.join(", ")}` };
  }
  const schema = SCHEMAS[type as ClientFrame["type"]];
  for (const [name, check] of Object.entries(schema)) {
    const problem = check(fields[name]);
    if (problem) {
      const got = fields[name] === undefined ? "it is missing" : `got ${JSON.stringify(fields[name])?.slice(0, 60)}`;
      return { ok: false, message: `${type}.${name} ${problem}; ${got}` };
    }
  }
  const unknown = Object.keys(fields).filter((name) => name !== "type" && !Object.hasOwn(schema, name));
  if (unknown.length > 0) return { ok: false, message: `${type} has unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}` };
  return { ok: true, frame: fields as unknown as ClientFrame };
}
