// How the server verifies tokens, as configured (AUTH_*, JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL).

/** How tokens are verified: exactly one key source, or development mode when none is set. */
export type KeySource =
  | { kind: "development" } // a generated secret, kept in the cache dir; loopback only
  | { kind: "secret"; secret: string }
  | { kind: "public_key"; pem: string }
  | { kind: "jwks"; url: string; refetchCooldownMs: number };

export interface AuthConfig {
  key: KeySource;
  issuer: string | null;
  audience: string | null;
  /** Seconds. */
  clockSkew: number;
  tenantClaim: string;
  allowQueryToken: boolean;
}
