// complete_request, inspect_request and is_complete_request as the session's introspection,
// which runs between cells and records nothing, and its answer as the reply's content.
import type { IntrospectRequest } from "../sandbox/sandbox.ts";
import type { IntrospectAnswer } from "../sessions/session.ts";
import { errorFields, errorReply } from "./messages.ts";
import type { KernelRequest } from "./requests.ts";

export type IntrospectionRequest = Extract<KernelRequest, { type: "complete" | "inspect" | "is_complete" }>;

export function introspectRequest(request: IntrospectionRequest): IntrospectRequest {
  switch (request.type) {
    case "complete":
      return { kind: "complete", code: request.code, cursor: request.cursor };
    case "inspect":
      return { kind: "inspect", code: request.code, cursor: request.cursor, detail: request.detail };
    case "is_complete":
      return { kind: "is_complete", code: request.code };
  }
}

/**
 * The reply's content. A refusal (busy, the session ended) is an error reply naming its code;
 * is_complete has no error status, so it answers "unknown", as the protocol has kernels do.
 */
export function introspectionReply(request: IntrospectionRequest, answer: IntrospectAnswer): Record<string, unknown> {
  if ("error" in answer) return request.type === "is_complete" ? { status: "unknown" } : errorReply(errorFields(answer.error.code, answer.error.message));
  const { reply } = answer;
  switch (reply.kind) {
    case "complete":
      return { status: "ok", matches: reply.matches, cursor_start: reply.cursor_start, cursor_end: reply.cursor_end, metadata: {} };
    case "inspect":
      return { status: "ok", found: reply.found, data: reply.data, metadata: {} };
    case "is_complete":
      // The indent is for the next line of code that goes on: only incomplete code has one.
      return reply.status === "incomplete" ? { status: "incomplete", indent: reply.indent } : { status: reply.status };
  }
}
