// Verifies signed tokens and turns them into identities; signs development tokens.
import { errors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Clock } from "../clock.ts";
import type { TenantLimits } from "./identity.ts";
import { AuthError, SCOPES, type AuthFailure, type Identity, type Scope } from "./identity.ts";
import type { VerificationKey } from "./keys.ts";

export interface TokenPolicy {
  issuer: string | null;
  audience: string | null;
  /** Seconds. */
  clockSkew: number;
  tenantClaim: string;
}

/** Larger tokens are refused before any parsing: nobody needs one, and parsing costs. */
export const MAX_TOKEN_BYTES = 8192;

const LIMIT_CLAIMS: Record<string, keyof TenantLimits> = {
  max_sessions: "maxSessions",
  max_running: "maxRunning",
  open_rate: "openRate",
};

export class TokenVerifier {
  constructor(
    private readonly key: VerificationKey,
    private readonly policy: TokenPolicy,
    private readonly clock: Clock,
  ) {}

  async verify(token: string): Promise<Identity> {
    if (token.length > MAX_TOKEN_BYTES) throw unauthorized("token_too_large", `the token is larger than ${MAX_TOKEN_BYTES} bytes`);
    const now = new Date(this.clock.now());
    const options = {
      algorithms: this.key.algorithms,
      issuer: this.policy.issuer ?? undefined,
      audience: this.policy.audience ?? undefined,
      clockTolerance: this.policy.clockSkew,
      requiredClaims: ["exp"],
      currentDate: now,
    };
    const { key } = this.key;
    let payload: JWTPayload;
    try {
      ({ payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (error) {
      throw describeFailure(error);
    }
    if (payload.iat !== undefined && payload.iat * 1000 > now.getTime() + this.policy.clockSkew * 1000) {
      throw unauthorized("token_issued_in_future", "the token's \"iat\" is in the future");
    }
    return {
      user: requiredString(payload, "sub"),
      tenant: requiredString(payload, this.policy.tenantClaim),
      scopes: scopesOf(payload),
      limits: limitsOf(payload),
      expiresAt: payload.exp! * 1000,
    };
  }
}

/** Signs HS256 tokens: development mode, `npm run token`, and tests. */
export class TokenSigner {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  sign(claims: { user: string; tenant: string; scopes: readonly Scope[]; limits?: Partial<Record<keyof typeof LIMIT_CLAIMS, number>> }, ttlSeconds: number, tenantClaim = "tenant"): Promise<string> {
    return new SignJWT({ [tenantClaim]: claims.tenant, scope: claims.scopes.join(" "), ...(claims.limits && { limits: claims.limits }) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.user)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }
}

function unauthorized(reason: AuthFailure, message: string): AuthError {
  return new AuthError("unauthorized", reason, message);
}

function requiredString(payload: JWTPayload, claim: string): string {
  const value = payload[claim];
  if (typeof value !== "string" || value === "") throw unauthorized("missing_claim", `the token has no "${claim}" claim (a non-empty string)`);
  return value;
}

function scopesOf(payload: JWTPayload): Set<Scope> {
  const raw = typeof payload.scope === "string" ? payload.scope.split(" ") : Array.isArray(payload.scp) ? payload.scp : [];
  return new Set(raw.filter((scope): scope is Scope => (SCOPES as readonly unknown[]).includes(scope)));
}

function limitsOf(payload: JWTPayload): Partial<TenantLimits> {
  const claim = payload.limits;
  if (claim === undefined) return {};
  if (typeof claim !== "object" || claim === null || Array.isArray(claim)) throw unauthorized("invalid_claim", "the token's \"limits\" claim must be an object");
  const limits: Partial<TenantLimits> = {};
  for (const [name, value] of Object.entries(claim)) {
    const field = LIMIT_CLAIMS[name];
    if (!field || !Number.isSafeInteger(value) || (value as number) < 0) {
      throw unauthorized("invalid_claim", `the token's "limits" claim has an invalid entry "${name}"; allowed: ${Object.keys(LIMIT_CLAIMS).join(", ")} as whole numbers`);
    }
    limits[field] = value as number;
  }
  return limits;
}

function describeFailure(error: unknown): AuthError {
  if (error instanceof errors.JWTExpired) return unauthorized("token_expired", "the token has expired");
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthorized("bad_signature", "the token's signature does not verify");
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthorized("algorithm_not_allowed", "the token's algorithm is not allowed for this server's key");
  if (error instanceof errors.JWKSNoMatchingKey) return unauthorized("unknown_key", "no key of the server's JWKS matches the token");
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JOSEError && error.code === "ERR_JWKS_INVALID") {
    return unauthorized("keys_unavailable", "the server could not load its signing keys; retry later");
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return unauthorized("token_not_yet_valid", "the token is not valid yet (nbf)");
    if (error.claim === "iss") return unauthorized("wrong_issuer", "the token's issuer is not the one this server accepts");
    if (error.claim === "aud") return unauthorized("wrong_audience", "the token's audience is not this server");
    if (error.reason === "missing") return unauthorized("missing_claim", `the token has no "${error.claim}" claim`);
    return unauthorized("invalid_claim", `the token's "${error.claim}" claim is invalid`);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return unauthorized("malformed_token", "the token is malformed");
  }
  if (error instanceof TypeError || error instanceof errors.JOSEError) return unauthorized("malformed_token", "the token is malformed");
  return unauthorized("keys_unavailable", "the token could not be verified: the server's keys are unavailable; retry later");
}
