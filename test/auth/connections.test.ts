// A connection lives as long as its token, unless the client hands over a fresh one; scopes
// gate every frame.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ POOL_SIZE: "1", JWT_CLOCK_SKEW: "0" });
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a token expiring on an open connection closes it with 4001 token_expired", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", await server.token({}, 2));
  const closed = await raw.closed;
  assert.deepEqual(closed, { code: 4001, reason: "token_expired" });
});

test("a refreshed token keeps the connection open; a token for someone else is refused", async () => {
  const session = await ReplSession.open(server.url, { token: await server.token({}, 2), reconnect: false });
  let closedWith: unknown = "still open";
  session.on("closed", (error) => (closedWith = error));
  await assert.rejects(session.refreshToken(await server.token({ user: "mallory" }, 600)), (error: WasmReplError) => {
    assert.equal(error.code, "forbidden");
    assert.match(error.message, /another user or tenant/);
    return true;
  });
  await session.refreshToken(await server.token({}, 600));
  await delay(3000);
  assert.equal(closedWith, "still open");
  assert.equal((await session.execute("'alive'")).value, "'alive'");
  await session.close();
});

test("without sessions:execute a client may watch a session but not run anything in it", async () => {
  const owner = await ReplSession.open(server.url, { token: await server.token() });
  const watcher = await RawSocket.connect(server.url, `/v1/sessions/${owner.id}`, await server.token({ scopes: ["sessions:read"] }));
  watcher.send({ type: "execute", id: "sneaky", code: "1" });
  const refused = await watcher.next("error");
  assert.deepEqual({ id: refused.id, code: refused.code, message: refused.message }, { id: "sneaky", code: "forbidden", message: 'the token lacks the "sessions:execute" scope' });
  watcher.send({ type: "ping", id: "p" });
  assert.equal((await watcher.next("pong")).id, "p", "pings need no scope");
  await owner.execute("print('shared')");
  assert.equal((await watcher.next("stream")).text, "shared\n", "the watcher sees the owner's output");
  await owner.close();
});
