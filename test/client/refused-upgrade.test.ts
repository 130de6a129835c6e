// A refused upgrade leaves nothing behind in the client: the HTTP answer (a 503 during an outage,
// a 410 for a lost session) is read and its connection closed, so that a network that resets the
// connection afterwards (a proxy, a load balancer keeping it alive) cannot crash the process.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";

test("a connection reset after a refused upgrade is no error of the client's process", async () => {
  const body = JSON.stringify({ code: "store_unavailable", message: "the server cannot reach its store; retry shortly" });
  const server = createServer((request, response) => {
    // Answered and kept alive, as a server behind haproxy does; reset a moment later.
    response.writeHead(503, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }).end(body);
    response.on("finish", () => setTimeout(() => request.socket.resetAndDestroy(), 50));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await assert.rejects(ReplSession.open(url, { token: "any" }), (error: unknown) => error instanceof WasmReplError && error.code === "store_unavailable" && error.status === 503);
  // An unhandled 'error' of the socket would surface here, failing the test as an uncaught exception.
  await new Promise((resolve) => setTimeout(resolve, 300));
});
