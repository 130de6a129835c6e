// Keys from a JWKS served by a local HTTP server: cached, refetched on an unknown key id (rate
// limited), so a key rotation needs no restart.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";
import { bearer, refusedUpgrade } from "../helpers/upgrade.ts";

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

/** The identity provider: serves the current JWKS and counts how often it is fetched. */
const provider = { keys: [] as JWK[], fetches: 0 };
const jwksServer = createServer((_request, response) => {
  provider.fetches++;
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: provider.keys }));
});
await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
test.after(() => jwksServer.close());
const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;

const COOLDOWN_S = 0.5;
const server = await startTestServer({ JWT_SECRET: "", JWT_JWKS_URL: jwksUrl, JWT_JWKS_REFETCH_COOLDOWN: String(COOLDOWN_S), POOL_SIZE: "0" });

function tokenFrom(key: SigningKey): Promise<string> {
  return new SignJWT({ tenant: "acme", scope: "sessions:create sessions:execute sessions:read" })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setSubject("alice")
    .setExpirationTime("10m")
    .sign(key.privateKey);
}

async function opens(token: string): Promise<boolean> {
  try {
    const session = await ReplSession.open(server.url, { token, reconnect: false });
    await session.close();
    return true;
  } catch {
    return false;
  }
}

test("keys rotate mid-run without a restart; unknown key ids refetch at most once per cooldown", async () => {
  const first = await signingKey("2026-a");
  provider.keys = [first.jwk];
  assert.equal(await opens(await tokenFrom(first)), true);
  const fetchesAfterFirst = provider.fetches;
  assert.equal(await opens(await tokenFrom(first)), true);
  assert.equal(provider.fetches, fetchesAfterFirst, "the JWKS is cached");

  // The provider rotates: the new key signs, the old one is gone.
  const second = await signingKey("2026-b");
  provider.keys = [second.jwk];
  await new Promise((resolve) => setTimeout(resolve, COOLDOWN_S * 1000 + 100));
  assert.equal(await opens(await tokenFrom(second)), true, "an unknown kid triggers a refetch");
  const fetchesAfterRotation = provider.fetches;
  assert.equal(fetchesAfterRotation, fetchesAfterFirst + 1);

  // A flood of tokens naming keys nobody has cannot make the server hammer the provider.
  const stranger = await signingKey("unknown");
  const refusals = await Promise.all(Array.from({ length: 10 }, async () => refusedUpgrade(server.url, "/v1/sessions", bearer(await tokenFrom(stranger)))));
  for (const { status, body } of refusals) {
    assert.equal(status, 401);
    assert.match(body.reason!, /unknown_key|bad_signature/);
  }
  assert.ok(provider.fetches <= fetchesAfterRotation + 1, `${provider.fetches - fetchesAfterRotation} refetches within one cooldown`);
});

test("HS256 tokens are never accepted against a JWKS", async () => {
  const hs = await new SignJWT({ tenant: "acme", scope: "sessions:create" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("10m").sign(new TextEncoder().encode("x".repeat(32)));
  const { body } = await refusedUpgrade(server.url, "/v1/sessions", bearer(hs));
  assert.equal(body.reason, "algorithm_not_allowed");
});
