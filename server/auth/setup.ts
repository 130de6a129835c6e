// Turns the configuration into a verifier (and, where the server holds a secret, a signer).
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { verificationKey } from "./keys.ts";
import type { AuthConfig } from "./settings.ts";
import { SCOPES } from "./identity.ts";
import { TokenSigner, TokenVerifier } from "./tokens.ts";

const DEVELOPMENT_TOKEN_TTL_SECONDS = 24 * 3600;

export interface Auth {
  verifier: TokenVerifier;
  /** Present when tokens are HS256 with a secret this server holds (development, JWT_SECRET). */
  signer: TokenSigner | null;
  development: boolean;
  /** In development mode: a token for the development user (every scope but tenant:admin); else null. */
  developmentToken: (() => Promise<string>) | null;
}

/** `cacheDir` keeps the development secret. */
export async function createAuth(config: AuthConfig, cacheDir: string, clock: Clock): Promise<Auth> {
  const { key, ...policy } = config;
  const source = key.kind === "development" ? { kind: "secret" as const, secret: await developmentSecret(cacheDir) } : key;
  const signer = source.kind === "secret" ? new TokenSigner(source.secret) : null;
  const development = key.kind === "development";
  return {
    verifier: new TokenVerifier(verificationKey(source), policy, clock),
    signer,
    development,
    developmentToken:
      development && signer
        ? () => signer.sign({ user: "dev", tenant: "dev", scopes: SCOPES.filter((scope) => scope !== "tenant:admin") }, DEVELOPMENT_TOKEN_TTL_SECONDS, config.tenantClaim)
        : null,
  };
}

/**
 * The development secret lives in the cache directory, so tokens printed by one `npm start`
 * (or by `npm run token`) keep working across restarts of a development server.
 */
async function developmentSecret(cacheDir: string): Promise<string> {
  const path = join(cacheDir, "development-jwt-secret");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    await mkdir(cacheDir, { recursive: true });
    const secret = randomBytes(32).toString("base64url");
    await writeFile(path, secret, { mode: 0o600, flag: "wx" }).catch(() => {});
    return (await readFile(path, "utf8")).trim();
  }
}
