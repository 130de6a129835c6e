// Liveness and readiness as an orchestrator sees them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startTestServer } from "../helpers/server.ts";

test("/ready is false while the pool is empty and while draining; /health stays ok", async () => {
  const empty = await startTestServer({ POOL_SIZE: "0" });
  const notReady = await fetch(`${empty.url}/ready`);
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, reason: "no warm sandbox is available yet" });

  const server = await startTestServer({ POOL_SIZE: "1" });
  let ready = await fetch(`${server.url}/ready`);
  for (let tries = 0; ready.status !== 200 && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await fetch(`${server.url}/ready`);
  }
  assert.deepEqual(await ready.json(), { ready: true });
  server.app.drain();
  const draining = await fetch(`${server.url}/ready`);
  assert.equal(draining.status, 503);
  assert.deepEqual(await draining.json(), { ready: false, reason: "the server is shutting down" });
  const health = await fetch(`${server.url}/health`);
  assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
});
