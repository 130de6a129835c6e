// A kernel is a session, so it moves as one: it hibernates under an open connection and wakes on
// the next cell with every variable; on a cluster its channels and REST calls reach the server
// that holds it from any other, and when that server drains, the client reconnects through the
// other and finds its variables there.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KernelChannels, rest, type Exchange } from "../helpers/jupyter-client.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

async function waitForState(server: TestServer, kernelId: string, state: string): Promise<void> {
  const id = kernelId.replaceAll("-", "");
  for (let tries = 0; tries < 200; tries++) {
    if ((await server.stores.sessions.get(id))?.state === state) return;
    await sleep(100);
  }
  assert.fail(`kernel ${kernelId} never became ${state}`);
}

const resultOf = (exchange: Exchange) => exchange.iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"];

test("a kernel hibernates under its open channels and wakes on the next cell with its variables", { timeout: 60_000 }, async () => {
  const server = await startTestServer({ HIBERNATE_AFTER: "1", IDLE_TIMEOUT: "60" });
  const token = await server.token();
  const kernelId = (await rest(server.url, token, "POST", "/api/kernels", { name: "python3" })).body.id;
  const channels = await KernelChannels.open(server.url, kernelId, token);
  const first = await channels.execute("import statistics\nx = 41\ndef twice(v): return 2 * v");
  await waitForState(server, kernelId, "hibernated");
  assert.equal((await rest(server.url, token, "GET", `/api/kernels/${kernelId}`)).body.execution_state, "idle");
  const woken = await channels.execute("twice(x) - x + 1, statistics.mean([1, 3])");
  assert.equal(resultOf(woken), "(42, 2)");
  assert.equal(woken.reply.content.execution_count, first.reply.content.execution_count + 1, "the same interpreter, not a fresh one");
  await channels.close();
  await server.shutdown();
});

test("on two servers sharing a store, a kernel is reached through either, and outlives the drain of the one that held it", { timeout: 90_000 }, async () => {
  const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueKeyPrefix(), JWT_SECRET: randomBytes(32).toString("hex"), HIBERNATE_AFTER: "0", IDLE_TIMEOUT: "60" };
  after(() => deleteKeys(shared.REDIS_URL, shared.REDIS_KEY_PREFIX));
  const holder = await startTestServer({ ...shared, POD_NAME: "pod-a" });
  const other = await startTestServer({ ...shared, POD_NAME: "pod-b" });
  const token = await holder.token();
  const kernelId = (await rest(holder.url, token, "POST", "/api/kernels", { name: "python3" })).body.id;

  const viaOther = await rest(other.url, token, "GET", `/api/kernels/${kernelId}`);
  assert.equal(viaOther.status, 200, "the other server forwards the REST call to the holder");
  assert.equal(viaOther.body.id, kernelId);
  const channels = await KernelChannels.open(other.url, kernelId, token);
  const ran = await channels.execute("x = 41\nprint('on the holder')");
  assert.equal(ran.reply.content.status, "ok");
  assert.equal((await holder.stores.sessions.get(kernelId.replaceAll("-", "")))?.pod, "pod-a", "the forwarded channels reach the session where it is held");

  const closed = channels.closed();
  await holder.shutdown();
  assert.equal(await closed, 1012, "the drain tells the client the kernel moved (1012) and it reconnects");

  const reconnected = await KernelChannels.open(other.url, kernelId, token);
  const woken = await reconnected.execute("x + 1");
  assert.equal(resultOf(woken), "42", "the kernel woke on the other server with its variables");
  assert.equal((await other.stores.sessions.get(kernelId.replaceAll("-", "")))?.pod, "pod-b");
  assert.equal((await rest(other.url, token, "GET", `/api/kernels/${kernelId}`)).status, 200);
  await reconnected.close();
  assert.equal((await rest(other.url, token, "DELETE", `/api/kernels/${kernelId}`)).status, 204);
});
