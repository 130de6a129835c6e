// Every bad token is refused at the upgrade, with its own reason, before any socket opens.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";
import { bearer, refusedUpgrade } from "../helpers/upgrade.ts";

const server = await startTestServer({ JWT_ISSUER: "https://issuer.example", JWT_AUDIENCE: "wasm-repl", POOL_SIZE: "0" });
const secret = new TextEncoder().encode(server.secret);
const now = () => Math.floor(Date.now() / 1000);

/** A token like the server wants, with `change` applied to its claims, signed with `key`. */
function token(change: Record<string, unknown> = {}, key: Uint8Array = secret, alg = "HS256"): Promise<string> {
  const claims = { sub: "alice", tenant: "acme", scope: "sessions:create sessions:read sessions:execute", iss: "https://issuer.example", aud: "wasm-repl", iat: now(), exp: now() + 600, ...change };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(key);
}

test("a well-formed token opens a session", async () => {
  const session = await ReplSession.open(server.url, { token: await token() });
  assert.ok(session.id);
  await session.close();
});

test("each bad token is refused with 401 and its own reason; the message never echoes the token", async () => {
  const otherSecret = new TextEncoder().encode("a different secret that is long enough!!");
  const cases: [string, string | Promise<string>, string][] = [
    ["bad signature", token({}, otherSecret), "bad_signature"],
    ["expired", token({ exp: now() - 120 }), "token_expired"],
    ["not yet valid", token({ nbf: now() + 600 }), "token_not_yet_valid"],
    ["issued in the future", token({ iat: now() + 600 }), "token_issued_in_future"],
    ["wrong issuer", token({ iss: "https://evil.example" }), "wrong_issuer"],
    ["wrong audience", token({ aud: "someone-else" }), "wrong_audience"],
    ["no exp", token({ exp: undefined }), "missing_claim"],
    ["alg none", new UnsecuredJWT({ sub: "alice", tenant: "acme", iss: "https://issuer.example", aud: "wasm-repl", exp: now() + 600 }).encode(), "algorithm_not_allowed"],
    ["missing tenant", token({ tenant: undefined }), "missing_claim"],
    ["missing sub", token({ sub: undefined }), "missing_claim"],
    ["bad limits claim", token({ limits: { max_sessions: "lots" } }), "invalid_claim"],
    ["malformed", "abc.def.ghi", "malformed_token"],
    ["not a JWT at all", "hello", "malformed_token"],
    ["oversized", "x".repeat(9000), "token_too_large"],
  ];
  for (const [name, pending, reason] of cases) {
    const jwt = await pending;
    const { status, body } = await refusedUpgrade(server.url, "/v1/sessions", bearer(jwt));
    assert.equal(status, 401, name);
    assert.equal(body.code, "unauthorized", name);
    assert.equal(body.reason, reason, `${name}: ${body.message}`);
    assert.ok(!body.message.includes(jwt.slice(0, 20)), `${name}: the message must not echo the token`);
  }
});

test("a token without the needed scope is refused with 403", async () => {
  const { status, body } = await refusedUpgrade(server.url, "/v1/sessions", bearer(await token({ scope: "sessions:read" })));
  assert.equal(status, 403);
  assert.deepEqual(body, { code: "forbidden", reason: "missing_scope", message: 'the token lacks the "sessions:create" scope' });
  const scp = await refusedUpgrade(server.url, "/v1/sessions", bearer(await token({ scope: undefined, scp: ["sessions:execute"] })));
  assert.equal(scp.body.reason, "missing_scope", "scopes may come as an scp array");
});

test("an HS256 token signed with the server's RSA public key as its secret is refused", async () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const rsaServer = await startTestServer({ JWT_SECRET: "", JWT_PUBLIC_KEY: pem, POOL_SIZE: "0" });
  const claims = { sub: "alice", tenant: "acme", scope: "sessions:create sessions:execute", exp: now() + 600 };
  const confused = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(pem));
  const refused = await refusedUpgrade(rsaServer.url, "/v1/sessions", bearer(confused));
  assert.equal(refused.status, 401);
  assert.equal(refused.body.reason, "algorithm_not_allowed");
  const genuine = await new SignJWT(claims).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
  const session = await ReplSession.open(rsaServer.url, { token: genuine });
  await session.close();
});

test("oversized headers are refused by the HTTP layer without harm", async () => {
  const { status } = await refusedUpgrade(server.url, "/v1/sessions", { authorization: `Bearer ${"y".repeat(20_000)}` });
  assert.equal(status, 431);
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});

test("access_token in the URL only works when ALLOW_QUERY_TOKEN is on", async () => {
  const jwt = await token();
  const refused = await refusedUpgrade(server.url, `/v1/sessions?access_token=${jwt}`, {});
  assert.equal(refused.body.reason, "query_token_disabled");
  const permissive = await startTestServer({ ALLOW_QUERY_TOKEN: "true", POOL_SIZE: "0" });
  const list = await fetch(`${permissive.url}/v1/sessions?access_token=${await permissive.token()}`);
  assert.equal(list.status, 200);
});
