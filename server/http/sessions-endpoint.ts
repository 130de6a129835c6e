// POST /v1/sessions opens a session (with environment variables, which stay out of URLs);
// GET /v1/sessions lists the caller's sessions; DELETE /v1/sessions/:id ends one. A session's
// connections are WebSockets (v1/endpoints.ts).
import { parseJson } from "../../protocol/json.ts";
import { boolean, fieldProblem, jsonObject, optional } from "../../protocol/schema.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import { readBody } from "./body.ts";
import type { ScopedRoute } from "./endpoint.ts";
import type { OwnerForwarding } from "./forwarding.ts";
import { sendError, sendJson } from "./responses.ts";
import { param } from "./routes.ts";

/** Far more than the largest environment a session takes (ENV_LIMITS), escaped as JSON. */
const OPEN_BODY_BYTES = 1024 * 1024;
const OPEN_BODY = { env: optional(jsonObject), rlm_call_text: optional(boolean) };

export function createSession(registry: SessionRegistry): ScopedRoute["handle"] {
  return async ({ request, response }, caller) => {
    let body;
    try {
      body = await readBody(request, OPEN_BODY_BYTES);
    } catch (error) {
      // The client went away mid-body: there is no one to answer, and nothing failed here.
      if (request.destroyed) return;
      throw error;
    }
    if (body === null) {
      // The rest of the body is unread: no request may follow it on this connection.
      response.setHeader("connection", "close");
      return sendError(response, "too_large", `the request body is over ${OPEN_BODY_BYTES} bytes`);
    }
    const json = body.byteLength === 0 ? { ok: true as const, value: {} } : parseJson(body.toString("utf8"));
    if (!json.ok) return sendError(response, "bad_request", `the body ${json.message}; send {"env": {"NAME": "value"}} or nothing`);
    if (jsonObject(json.value)) return sendError(response, "bad_request", "the body must be a JSON object");
    const problem = fieldProblem(json.value as Record<string, unknown>, OPEN_BODY);
    if (problem) return sendError(response, "bad_request", problem);
    const { env, rlm_call_text: rlmCallText } = json.value as { env?: Record<string, string>; rlm_call_text?: boolean };
    const session = await registry.open(caller, { env, rlmCallText });
    sendJson(response, 201, session.summary());
  };
}

export function listSessions(registry: SessionRegistry): ScopedRoute["handle"] {
  return async ({ response }, caller) => sendJson(response, 200, { sessions: await registry.list(caller) });
}

export function endSession(registry: SessionRegistry, forwarding: OwnerForwarding): ScopedRoute["handle"] {
  return async ({ request, response, params }, caller) => {
    try {
      await (await registry.find(param(params, "id"), caller, wasForwarded(request))).end("closed");
    } catch (error) {
      if (error instanceof HeldElsewhere) return forwarding.http(request, response, error);
      throw error;
    }
    response.writeHead(204).end();
  };
}
