// Tenants cannot see, attach to, or even detect each other's sessions; quotas hold per tenant.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import type { ErrorBody, SessionSummary } from "../../protocol/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";
import { bearer, refusedUpgrade } from "../helpers/upgrade.ts";

const server = await startTestServer({ TENANT_MAX_SESSIONS: "2", TENANT_MAX_RUNNING: "1", TENANT_OPEN_RATE: "1000", POOL_SIZE: "2" });
const alice = await server.token({ user: "alice", tenant: "acme" });
const bob = await server.token({ user: "bob", tenant: "acme" });
const admin = await server.token({ user: "root", tenant: "acme", scopes: ["tenant:admin"] });
const mallory = await server.token({ user: "alice", tenant: "evil" }); // same user name, other tenant

async function list(token: string): Promise<SessionSummary[]> {
  const response = await fetch(`${server.url}/v1/sessions`, { headers: bearer(token) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { sessions: SessionSummary[] }).sessions;
}

async function remove(id: string, token: string): Promise<{ status: number; body: ErrorBody | null }> {
  const response = await fetch(`${server.url}/v1/sessions/${id}`, { method: "DELETE", headers: bearer(token) });
  return { status: response.status, body: response.status === 204 ? null : ((await response.json()) as ErrorBody) };
}

test("another tenant's session answers exactly like one that does not exist", async () => {
  const session = await ReplSession.open(server.url, { token: alice });
  const missing = "AAAAAAAAAAAAAAAAAAAAAA";
  for (const [id, label] of [[session.id, "another tenant's"], [missing, "a missing"]] as const) {
    const attach = await refusedUpgrade(server.url, `/v1/sessions/${id}`, bearer(mallory));
    assert.equal(attach.status, 404, label);
    assert.deepEqual(attach.body, { code: "session_not_found", message: `there is no session ${id}; open a new session` });
    const deleted = await remove(id, mallory);
    assert.equal(deleted.status, 404, label);
    assert.deepEqual(deleted.body, attach.body);
  }
  assert.deepEqual(await list(mallory), []);
  assert.match(session.id, /^[0-9a-f]{32}$/, "128 random bits");
  await session.close();
});

test("within a tenant only the owner attaches; a tenant admin sees and ends every session", async () => {
  const session = await ReplSession.open(server.url, { token: alice });
  assert.equal((await refusedUpgrade(server.url, `/v1/sessions/${session.id}`, bearer(bob))).status, 404);
  assert.deepEqual(await list(bob), []);
  const [summary] = await list(alice);
  assert.equal(summary!.session_id, session.id);
  assert.deepEqual(Object.keys(summary!).sort(), ["attached_clients", "cell_count", "created_at", "hibernated", "last_active_at", "running", "session_id", "tenant", "user"]);
  const watching = await ReplSession.attach(server.url, session.id, { token: admin });
  assert.equal((await watching.execute("1 + 1")).value, "2");
  assert.deepEqual((await list(admin)).map((item) => item.user), ["alice"]);
  const evicted = new Promise((resolve) => session.once("evicted", resolve));
  assert.equal((await remove(session.id, admin)).status, 204);
  assert.equal(await evicted, "closed");
  assert.deepEqual(await list(alice), []);
});

test("TENANT_MAX_SESSIONS: a third session is refused naming the limit and its use; other tenants are unaffected", async () => {
  const open = [await ReplSession.open(server.url, { token: alice }), await ReplSession.open(server.url, { token: bob })];
  await assert.rejects(ReplSession.open(server.url, { token: alice }), (error: WasmReplError) => {
    assert.equal(error.code, "quota_exceeded");
    assert.equal(error.status, 429);
    assert.match(error.message, /tenant "acme" has 2 open sessions, its limit \(TENANT_MAX_SESSIONS\) is 2/);
    return true;
  });
  const other = await ReplSession.open(server.url, { token: mallory });
  await Promise.all([...open, other].map((session) => session.close()));
});

test("a signed limits claim raises the tenant's quota", async () => {
  const generous = await server.token({ user: "carol", tenant: "big", limits: { max_sessions: 3 } });
  const sessions = await Promise.all([1, 2, 3].map(() => ReplSession.open(server.url, { token: generous })));
  await Promise.all(sessions.map((session) => session.close()));
});

test("TENANT_MAX_RUNNING: a cell over the limit gets quota_exceeded while another runs", async () => {
  const first = await ReplSession.open(server.url, { token: alice });
  const second = await RawSocket.connect(server.url, "/v1/sessions", bob);
  const slow = first.execute("import time\ntime.sleep(1)");
  await new Promise((resolve) => setTimeout(resolve, 300));
  second.send({ type: "execute", id: "over", code: "1" });
  const refused = await second.next("error");
  assert.equal(refused.code, "quota_exceeded");
  assert.match(refused.message, /tenant "acme" has 1 cells running, its limit \(TENANT_MAX_RUNNING\) is 1/);
  await slow;
  second.send({ type: "execute", id: "after", code: "2" });
  assert.equal((await second.next("result")).value, "2");
  await Promise.all([first.close(), second.end()]);
});

test("TENANT_OPEN_RATE: opening faster than the rate is refused", async () => {
  const limited = await startTestServer({ TENANT_OPEN_RATE: "2", POOL_SIZE: "0" });
  const token = await limited.token();
  for (let i = 0; i < 2; i++) await (await ReplSession.open(limited.url, { token })).close();
  await assert.rejects(ReplSession.open(limited.url, { token }), /opened 2 sessions in the last minute, its limit \(TENANT_OPEN_RATE\) is 2 per minute/);
});
