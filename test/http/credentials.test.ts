// Where a request's token is read from (server/http/credentials.ts): the header in either scheme,
// the bearer subprotocol, and the query only where the server allows it. No server is started.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { AuthError } from "../../server/auth/identity.ts";
import { bearerToken } from "../../server/http/credentials.ts";

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}

function refusal(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    assert.ok(error instanceof AuthError);
    return error.reason;
  }
  assert.fail("the token was accepted");
}

test("the Authorization header carries the token as Bearer or as Jupyter's token scheme", () => {
  assert.equal(bearerToken(request("/", { authorization: "Bearer abc.def.ghi" }), false), "abc.def.ghi");
  assert.equal(bearerToken(request("/", { authorization: "token abc.def.ghi" }), false), "abc.def.ghi");
  assert.equal(bearerToken(request("/", { authorization: "TOKEN abc" }), false), "abc");
  assert.equal(refusal(() => bearerToken(request("/", { authorization: "Basic dXNlcjpwYXNz" }), false)), "malformed_token");
  assert.equal(refusal(() => bearerToken(request("/", { authorization: "token" }), false)), "malformed_token");
});

test("the bearer subprotocol carries it for browsers", () => {
  assert.equal(bearerToken(request("/", { "sec-websocket-protocol": "wasm-repl.v1, bearer.abc" }), false), "abc");
});

test("access_token and Jupyter's token in the query count only where query tokens are allowed", () => {
  assert.equal(bearerToken(request("/api/kernels/x/channels?session_id=s&token=abc"), true), "abc");
  assert.equal(bearerToken(request("/v1/sessions?access_token=abc"), true), "abc");
  assert.equal(refusal(() => bearerToken(request("/api/kernels/x/channels?token=abc"), false)), "query_token_disabled");
  assert.equal(refusal(() => bearerToken(request("/v1/sessions?access_token=abc"), false)), "query_token_disabled");
  assert.equal(refusal(() => bearerToken(request("/api/kernels"), true)), "missing_token");
});
