// POST /execute: the guide's HTTP API (execute.ts), given this server's sessions, limits and way
// to the server holding a session that lives elsewhere.
import { wasForwarded } from "../routing/forwarder.ts";
import type { ScopedRoute } from "./endpoint.ts";
import { handleExecute, type ExecuteContext } from "./execute.ts";
import type { OwnerForwarding } from "./forwarding.ts";

/** What every request shares: the context less what depends on the request. */
export type ExecuteParts = Omit<ExecuteContext, "forwarded" | "forward">;

export function execute(parts: ExecuteParts, forwarding: OwnerForwarding): ScopedRoute["handle"] {
  return ({ request, response }, caller) =>
    handleExecute(request, response, caller, {
      ...parts,
      forwarded: wasForwarded(request),
      forward: (owner, body) => forwarding.http(request, response, owner, body),
    });
}
