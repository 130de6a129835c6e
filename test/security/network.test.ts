// Untrusted Python must not open network connections (to Redis on this machine, to any local
// port) nor listen on a port. The sandbox process holds no net permission.
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Server } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertContained,
  assertGlobalNotCaught,
  assertRefused,
  attack,
  attackExpression,
  attackFuture,
  reachableNames,
  sharedSandbox,
  WORKER_GLOBAL,
} from "./attack.ts";

const REDIS_PORT = 6379;

const runtime = await startTestRuntime();
const target = sharedSandbox(runtime);

/** A local TCP server that counts every connection made to it. */
async function startWitness(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

/** Whether a TCP connection to 127.0.0.1:port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const { server, port } = await startWitness();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const witness = await startWitness();
after(() => new Promise((resolve) => witness.server.close(resolve)));

/** Gives a connection that got out the time to arrive, then asserts none did. */
async function assertWitnessUntouched(): Promise<void> {
  await delay(100);
  assert.equal(witness.connections(), 0, "the sandbox reached the local server");
}

function socketAttack(port: number): string {
  return `import socket
def attack():
    connection = socket.create_connection(("127.0.0.1", ${port}), timeout=2)
    connection.sendall(b"PING\\r\\n")
    return connection.recv(100)`;
}

describe("Python cannot use the network", () => {
  test("a socket cannot connect to a local port (the server sees no connection)", async () => {
    const sandbox = await target();
    await assertRefused(await attack(sandbox, socketAttack(witness.port)));
    await assertWitnessUntouched();
    await assertContained(sandbox);
  });

  test("a socket cannot talk to Redis on this machine", async (t) => {
    if (!(await accepts(REDIS_PORT))) return t.skip("no Redis listens on this machine");
    const sandbox = await target();
    await assertRefused(await attack(sandbox, socketAttack(REDIS_PORT)), "PONG", "NOAUTH");
    await assertContained(sandbox);
  });

  test("urllib cannot fetch from a local HTTP port", async () => {
    const sandbox = await target();
    const url = `http://127.0.0.1:${witness.port}/`;
    await assertRefused(await attackExpression(sandbox, `urllib.request.urlopen(${JSON.stringify(url)}, timeout=2).read()`, "import urllib.request"));
    await assertWitnessUntouched();
    await assertContained(sandbox);
  });

  test("Pyodide's loader cannot fetch from a local port", async () => {
    const sandbox = await target();
    const url = `http://127.0.0.1:${witness.port}/secret`;
    await assertRefused(await attackFuture(sandbox, `pyodide_js._api.loadBinaryFile(${JSON.stringify(url)})`, "import pyodide_js"));
    await assertWitnessUntouched();
    await assertContained(sandbox);
  });

  test("pyodide.http.pyfetch cannot fetch from a local port", async () => {
    const sandbox = await target();
    const url = `http://127.0.0.1:${witness.port}/`;
    await assertRefused(await attackFuture(sandbox, `asyncio.ensure_future(pyodide.http.pyfetch(${JSON.stringify(url)}))`, "import asyncio, pyodide.http"));
    await assertWitnessUntouched();
    await assertContained(sandbox);
  });

  test("the js module offers no fetch, WebSocket or XMLHttpRequest", async () => {
    assert.deepEqual(await reachableNames(await target(), ["js"], ["fetch", "WebSocket", "XMLHttpRequest", "EventSource"]), []);
  });

  test("fetch, Deno.connect and Deno.listen are out of reach: the global object cannot be caught, and nothing connects", async () => {
    const sandbox = await target();
    await assertGlobalNotCaught(sandbox);
    const port = await freePort();
    const attempts: [typeof attackFuture, string][] = [
      [attackFuture, `worker_global().fetch("http://127.0.0.1:${witness.port}/")`],
      [attackFuture, `worker_global().Deno.connect(js_object(hostname="127.0.0.1", port=${witness.port}))`],
      [attackExpression, `worker_global().Deno.listen(js_object(hostname="127.0.0.1", port=${port}))`],
    ];
    for (const [attempt, expression] of attempts) await assertRefused(await attempt(sandbox, expression, WORKER_GLOBAL));
    assert.equal(await accepts(port), false, `port ${port} accepts connections after the attack`);
    await assertWitnessUntouched();
    await assertContained(sandbox);
  });

  // On a sandbox of its own: listening may end the sandbox (Pyodide's socket layer needs a file it may not read).
  test("a socket cannot listen on a host port", async () => {
    const port = await freePort();
    const listener = await runtime.pool.take();
    const run = await attack(
      listener,
      `import socket
def attack():
    server = socket.socket()
    server.bind(("127.0.0.1", ${port}))
    server.listen()
    return server.getsockname()`,
    );
    assert.equal(await accepts(port), false, `port ${port} accepts connections after the attack`);
    await assertRefused(run);
    await assertContained(listener);
  });
});
