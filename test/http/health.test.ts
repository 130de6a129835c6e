// Liveness and readiness as an orchestrator sees them: ready means "this pod can serve".
import assert from "node:assert/strict";
import { test } from "node:test";
import { startTestServer } from "../helpers/server.ts";

test("an empty pool leaves the pod ready (a request waits for a boot); draining makes it not ready; /health stays ok", async () => {
  const server = await startTestServer({ POOL_SIZE: "0" });
  const ready = await fetch(`${server.url}/ready`);
  assert.deepEqual([ready.status, await ready.json()], [200, { ready: true }]);
  const executed = await fetch(`${server.url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await server.token()}` },
    body: JSON.stringify({ code: "6 * 7" }),
  });
  assert.equal(((await executed.json()) as { value: string }).value, "42", "with nothing booted ahead, the request waited for an interpreter");
  server.app.drain();
  const draining = await fetch(`${server.url}/ready`);
  assert.equal(draining.status, 503);
  assert.deepEqual(await draining.json(), { ready: false, reason: "the server is shutting down" });
  const health = await fetch(`${server.url}/health`);
  assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
});
