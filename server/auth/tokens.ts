// Verifies signed tokens and turns them into identities.
import { errors, jwtVerify, SignJWT } from "jose";
import { AuthError, type Identity } from "./identity.ts";

export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}

const encoder = new TextEncoder();

/** HS256 tokens signed with a shared secret; only HS256 is accepted, so `alg: none` is refused. */
export class SecretVerifier implements TokenVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = encoder.encode(secret);
  }

  async verify(token: string): Promise<Identity> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"] }));
    } catch (error) {
      throw new AuthError("unauthorized", describeFailure(error));
    }
    if (typeof payload.sub !== "string" || payload.sub === "") throw new AuthError("unauthorized", "the token has no \"sub\" claim");
    if (typeof payload.tenant !== "string" || payload.tenant === "") throw new AuthError("unauthorized", "the token has no \"tenant\" claim");
    return { user: payload.sub, tenant: payload.tenant };
  }

  sign(identity: Identity, ttlSeconds: number): Promise<string> {
    return new SignJWT({ tenant: identity.tenant })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(identity.user)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.key);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not allowed";
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's "${error.claim}" claim is invalid: ${error.reason}`;
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "the token is malformed";
  return "the token could not be verified";
}
