// GET /v1/sessions lists the caller's sessions; DELETE /v1/sessions/:id ends one. Sessions
// themselves are WebSockets (v1/endpoints.ts).
import { wasForwarded } from "../routing/forwarder.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { ScopedRoute } from "./endpoint.ts";
import type { OwnerForwarding } from "./forwarding.ts";
import { sendJson } from "./responses.ts";
import { param } from "./routes.ts";

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
