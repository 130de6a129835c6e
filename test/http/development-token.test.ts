// GET /v1/development-token: a development server gives its token to clients on this machine,
// and to nobody a browser could be tricked into asking for it.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { composeServer } from "../../server/compose.ts";
import { systemClock } from "../../server/clock.ts";
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";
import { startTestServer } from "../helpers/server.ts";

// A development server: no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL.
const { app, shutdown } = await composeServer(loadConfig({ POOL_SIZE: "1", PORT: "0", HOST: "127.0.0.1", CACHE_DIR: process.env.CACHE_DIR }), silentLogger, systemClock);
const { port } = await app.listen();
after(shutdown);
const url = `http://127.0.0.1:${port}`;

/** Node's client, unlike fetch, sends the Host, Origin and Sec-Fetch-* headers it is given. */
function ask(headers: Record<string, string>): Promise<{ status: number; body: { code?: string; token?: unknown } }> {
  return new Promise((resolve, reject) => {
    const sent = request(`${url}/v1/development-token`, { headers: { Host: `127.0.0.1:${port}`, ...headers } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
    });
    sent.on("error", reject);
    sent.end();
  });
}

test("a client on this machine gets a token that opens a session", async () => {
  const answer = await fetch(`${url}/v1/development-token`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("cache-control"), "no-store");
  const { token } = (await answer.json()) as { token: string };
  const session = await ReplSession.open(url, { token, reconnect: false });
  assert.equal((await session.execute("6 * 7")).value, "42");
  session.close();
});

test("the page of this server's own origin gets it; localhost and [::1] are loopback names too", async () => {
  for (const headers of <Record<string, string>[]>[
    { "Sec-Fetch-Site": "same-origin", Origin: url },
    { Host: `localhost:${port}` },
    { Host: `[::1]:${port}` },
  ]) {
    const answer = await ask(headers);
    assert.equal(answer.status, 200, JSON.stringify(headers));
    assert.equal(typeof answer.body.token, "string");
  }
});

test("a request for another host name (DNS rebinding), another site's page or another origin is refused", async () => {
  for (const headers of <Record<string, string>[]>[
    { Host: `attacker.example:${port}` },
    { Host: `127.0.0.1.nip.io:${port}` },
    { "Sec-Fetch-Site": "cross-site" },
    { "Sec-Fetch-Site": "same-site" },
    { Origin: "http://attacker.example" },
    { Origin: "null" },
  ]) {
    const answer = await ask(headers);
    assert.equal(answer.status, 403, JSON.stringify(headers));
    assert.equal(answer.body.code, "forbidden");
    assert.equal(answer.body.token, undefined);
  }
});

test("a server with a configured secret has no development token", async () => {
  const configured = await startTestServer();
  const answer = await fetch(`${configured.url}/v1/development-token`);
  assert.equal(answer.status, 404);
  assert.equal(((await answer.json()) as { code: string }).code, "not_found");
});
