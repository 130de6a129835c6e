// The key tokens are checked against, and the algorithms that key may be used with. The
// allowlist follows the key's type, so `none` and HS/RS confusion (an RSA public key used as an
// HMAC secret) cannot happen.
import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import type { KeySource } from "./settings.ts";

export interface VerificationKey {
  key: Uint8Array | KeyObject | JWTVerifyGetKey;
  algorithms: string[];
}

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

export function verificationKey(source: Exclude<KeySource, { kind: "development" }>): VerificationKey {
  switch (source.kind) {
    case "secret":
      return { key: new TextEncoder().encode(source.secret), algorithms: ["HS256"] };
    case "public_key": {
      const key = createPublicKey(source.pem);
      return { key, algorithms: algorithmsFor(key) };
    }
    case "jwks":
      return {
        key: createRemoteJWKSet(new URL(source.url), { cooldownDuration: source.refetchCooldownMs, cacheMaxAge: 10 * 60_000 }),
        algorithms: ASYMMETRIC,
      };
  }
}

function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === "prime256v1" ? ["ES256"] : curve === "secp384r1" ? ["ES384"] : ["ES512"];
    }
    case "ed25519":
      return ["EdDSA"];
    default:
      throw new Error(`JWT_PUBLIC_KEY: keys of type ${key.asymmetricKeyType} are not supported; use RSA, EC or Ed25519`);
  }
}
