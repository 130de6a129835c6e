// Debian's jupyter-server, started with --gateway-url pointing at wasm-repl, as JupyterLab or VS
// Code would use it: its own REST API starts, interrupts, restarts and deletes a kernel (which it
// asks wasm-repl for), and cells run over its own channels WebSocket, which it proxies to ours.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KernelChannels, rest, shape } from "../helpers/jupyter-client.ts";
import { startGatewayJupyter } from "../helpers/jupyter-server.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();
const jwt = await server.token();
const jupyter = await startGatewayJupyter(server.url, jwt);

test("a kernel started through jupyter-server is a wasm-repl session, and runs, interrupts, restarts and ends", { timeout: 120_000 }, async () => {
  const specs = await rest(jupyter.url, jupyter.token, "GET", "/api/kernelspecs");
  assert.equal(specs.status, 200, jupyter.output());
  assert.equal(specs.body.default, "python3");
  assert.equal(specs.body.kernelspecs.python3.spec.language, "python");

  const started = await rest(jupyter.url, jupyter.token, "POST", "/api/kernels", { name: "python3" });
  assert.equal(started.status, 201, jupyter.output());
  const kernelId: string = started.body.id;
  const ours = await rest(server.url, jwt, "GET", `/api/kernels/${kernelId}`);
  assert.equal(ours.status, 200, "the kernel is wasm-repl's, under the same id");
  const sessions = await fetch(`${server.url}/v1/sessions`, { headers: { authorization: `Bearer ${jwt}` } }).then((response) => response.json() as Promise<{ sessions: Array<{ session_id: string }> }>);
  assert.deepEqual(sessions.sessions.map((session) => session.session_id), [kernelId.replaceAll("-", "")], "and a session of the v1 API, the same one");

  const channels = await KernelChannels.open(jupyter.url, kernelId, jupyter.token, { tokenIn: "query" });
  try {
    const info = await channels.request("kernel_info_request", {});
    assert.equal(info.reply.content.implementation, "wasm-repl");
    assert.equal(info.reply.content.language_info.name, "python");

    const first = await channels.execute("a = 20\nprint('twenty')");
    assert.equal(first.reply.content.status, "ok");
    assert.deepEqual(shape(first.iopub), ["status:busy", "execute_input", "stream", "status:idle"]);
    assert.equal(first.iopub[2]!.content.text, "twenty\n");
    const second = await channels.execute("a * 2 + 2");
    assert.equal(second.iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"], "42");
    assert.equal(second.reply.content.execution_count, first.reply.content.execution_count + 1);

    // A cell that would run for a minute, interrupted through jupyter-server's REST API.
    const looping = channels.send("execute_request", { code: "import time\nwhile True:\n    time.sleep(0.05)", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    await channels.next((message) => message.parent_header.msg_id === looping.msg_id && message.header.msg_type === "execute_input");
    assert.equal((await rest(jupyter.url, jupyter.token, "POST", `/api/kernels/${kernelId}/interrupt`, {})).status, 204);
    const interrupted = await channels.exchangeOf(looping.msg_id, "execute_reply");
    assert.equal(interrupted.reply.content.status, "error");
    assert.equal(interrupted.reply.content.ename, "KeyboardInterrupt");
    assert.equal((await channels.execute("a")).iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"], "20", "an interrupt keeps the variables");

    const restarted = await rest(jupyter.url, jupyter.token, "POST", `/api/kernels/${kernelId}/restart`, {});
    assert.equal(restarted.status, 200, jupyter.output());
    assert.equal(restarted.body.id, kernelId);
    const fresh = await channels.execute("a");
    assert.equal(fresh.reply.content.status, "error");
    assert.equal(fresh.reply.content.ename, "NameError", "a restart drops every variable");
  } finally {
    await channels.close();
  }

  assert.equal((await rest(jupyter.url, jupyter.token, "DELETE", `/api/kernels/${kernelId}`)).status, 204);
  assert.equal((await rest(server.url, jwt, "GET", `/api/kernels/${kernelId}`)).status, 404, "deleting the kernel ended the session");
  assert.deepEqual((await rest(jupyter.url, jupyter.token, "GET", "/api/kernels")).body, []);
});
