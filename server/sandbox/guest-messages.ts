// What the host accepts from a guest. Python controls the guest's worker, so every message is
// checked field by field before the host acts on it; one that does not fit ends the sandbox.
import { boolean, count, fieldProblem, jsonObject, listOf, nullable, number, oneOf, shape, string, type Check } from "../../protocol/schema.ts";
import type { GuestMessage } from "./ipc.ts";

/** Prompts one llm_query_batched may send at once. */
export const MAX_BATCH_PROMPTS = 1000;

const cellError = shape({ type: string, message: string, traceback: string });

const SCHEMAS: Record<GuestMessage["type"], Record<string, Check>> = {
  ready: { boot_ms: number, pyodide: string },
  stream: { cell: count, name: oneOf(["stdout", "stderr"]), text: string },
  result: {
    cell: count,
    success: boolean,
    value: nullable(string),
    locals: nullable(jsonObject),
    execution_count: count,
    execution_time: number,
    error: nullable(cellError),
    output_dropped_bytes: count,
    final_answer: nullable(string),
  },
  applied: { cell: count, error: nullable(cellError) },
  llm_request: { cell: count, call: count, prompts: listOf(string, MAX_BATCH_PROMPTS), model: nullable(string), recursive: boolean },
  snapshot: { bytes: count },
  snapshot_failed: { message: string },
  fatal: { cause: oneOf(["boot_failed", "memory_limit", "stack_overflow", "interpreter_fatal"]), message: string },
  exited: {},
};

/** A message and the interpreter (worker) of the process that sent it. */
export interface GuestEnvelope {
  worker: number;
  message: GuestMessage;
}

/** The message, typed, with its worker; or a description of why it is not a valid guest message. */
export function checkGuestMessage(frame: Record<string, unknown>): GuestEnvelope | string {
  const { type, worker, ...rest } = frame;
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) return `unknown message type ${JSON.stringify(type)?.slice(0, 40)}`;
  if (count(worker) !== null) return `${type}.worker ${count(worker)}`;
  const problem = fieldProblem(rest, SCHEMAS[type as GuestMessage["type"]]);
  return problem ? `${type}.${problem}` : { worker: worker as number, message: { type, ...rest } as unknown as GuestMessage };
}
