// Who is calling, from the request's token, and whether the token holds a route's scope. A
// failure is logged and counted here, once for every route, before it is answered.
import type { IncomingMessage } from "node:http";
import { bearerToken } from "./credentials.ts";
import { AuthError, requireScope, type Identity, type Scope } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

export type Authenticate = (request: IncomingMessage, scope: Scope) => Promise<Identity>;

export interface AuthenticationParts {
  verifier: TokenVerifier;
  /** ALLOW_QUERY_TOKEN: the token may ride in the query string. */
  allowQueryToken: boolean;
  log: Logger;
  metrics: Metrics;
}

export function authenticator({ verifier, allowQueryToken, log, metrics }: AuthenticationParts): Authenticate {
  return async (request, scope) => {
    try {
      const identity = await verifier.verify(bearerToken(request, allowQueryToken));
      requireScope(identity, scope);
      return identity;
    } catch (error) {
      if (error instanceof AuthError) {
        log.info("auth_failed", { reason: error.reason });
        metrics.authFailed(error.reason);
      }
      throw error;
    }
  };
}
