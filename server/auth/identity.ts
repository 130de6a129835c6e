// Who is calling and what they may do: taken only from a verified token.
import type { ErrorCode } from "../../protocol/index.ts";

/** Per-tenant quotas: TENANT_* by default, a token's signed `limits` claim overriding them. */
export interface TenantLimits {
  maxSessions: number;
  maxRunning: number;
  /** Sessions opened per minute. */
  openRate: number;
}

export const SCOPES = ["sessions:create", "sessions:execute", "sessions:read", "tenant:admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface Identity {
  /** The user: the token's `sub`. */
  user: string;
  tenant: string;
  scopes: ReadonlySet<Scope>;
  /** Quotas the token's signed `limits` claim sets for its tenant, over the server's defaults. */
  limits: Partial<TenantLimits>;
  /** When the token expires (ms since the epoch). */
  expiresAt: number;
}

/** Why authentication failed, as a stable, machine-readable word (for clients, logs and metrics). */
export type AuthFailure =
  | "missing_token"
  | "malformed_token"
  | "token_too_large"
  | "bad_signature"
  | "algorithm_not_allowed"
  | "unknown_key"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_issued_in_future"
  | "wrong_issuer"
  | "wrong_audience"
  | "missing_claim"
  | "invalid_claim"
  | "query_token_disabled"
  | "missing_scope"
  | "identity_changed"
  | "keys_unavailable";

/** A refused request; `message` says which check failed and never contains the token. */
export class AuthError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, "unauthorized" | "forbidden">,
    readonly reason: AuthFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Admins hold every session scope within their tenant. */
export function requireScope(identity: Identity, scope: Scope): void {
  if (identity.scopes.has(scope) || identity.scopes.has("tenant:admin")) return;
  throw new AuthError("forbidden", "missing_scope", `the token lacks the "${scope}" scope`);
}

/** Whether `caller` may see and act on a session owned by `owner`. */
export function mayAccess(caller: Identity, owner: Pick<Identity, "tenant" | "user">): boolean {
  return caller.tenant === owner.tenant && (caller.user === owner.user || caller.scopes.has("tenant:admin"));
}
