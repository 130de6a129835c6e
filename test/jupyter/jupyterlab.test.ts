// JupyterLab's own client library (@jupyterlab/services, as the JupyterLab front end runs it),
// straight at wasm-repl: kernelspecs, a kernel started, a cell with rich output, completion,
// is_complete and inspection, an interrupt, a restart and a shutdown. It offers the
// v1.kernel.websocket.jupyter.org subprotocol, so the binary framing is the one spoken, and sends
// its token in the REST calls' header and, for the WebSocket, in ?token= (allowed here).
import assert from "node:assert/strict";
import { test } from "node:test";
import { KernelManager, KernelSpecAPI, ServerConnection, type KernelMessage } from "@jupyterlab/services";
import WebSocket from "ws";
import { JUPYTER_SUBPROTOCOL } from "../../server/jupyter/framing.ts";
import { rest } from "../helpers/jupyter-client.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ ALLOW_QUERY_TOKEN: "true" });
const token = await server.token();
const serverSettings = ServerConnection.makeSettings({
  baseUrl: server.url,
  wsUrl: server.url.replace(/^http/, "ws"),
  token,
  appendToken: true,
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
});

test("@jupyterlab/services drives a wasm-repl kernel from start to shutdown", { timeout: 120_000 }, async () => {
  const specs = await KernelSpecAPI.getSpecs(serverSettings);
  assert.equal(specs.default, "python3");
  assert.equal(specs.kernelspecs.python3?.language, "python");

  const manager = new KernelManager({ serverSettings });
  await manager.ready;
  const kernel = await manager.startNew({ name: "python3" });
  try {
    const info = await kernel.info;
    assert.equal(info.implementation, "wasm-repl");
    assert.equal((kernel as unknown as { _selectedProtocol: string })._selectedProtocol, JUPYTER_SUBPROTOCOL, "the binary framing");

    const outputs: KernelMessage.IIOPubMessage[] = [];
    const cell = kernel.requestExecute({ code: "from IPython.display import Markdown, display\nvalue = 6 * 7\ndisplay(Markdown('**bold**'))\nvalue" });
    cell.onIOPub = (message) => void outputs.push(message);
    const reply = await cell.done;
    assert.equal(reply.content.status, "ok");
    const types = outputs.map((message) => message.header.msg_type);
    assert.deepEqual(types, ["status", "execute_input", "display_data", "execute_result", "status"]);
    assert.equal((outputs[2]!.content as KernelMessage.IDisplayDataMsg["content"]).data["text/markdown"], "**bold**");
    assert.equal((outputs[3]!.content as KernelMessage.IExecuteResultMsg["content"]).data["text/plain"], "42");

    const completion = await kernel.requestComplete({ code: "val", cursor_pos: 3 });
    assert.deepEqual(completion.content.status === "ok" && completion.content.matches, ["value"]);
    const incomplete = await kernel.requestIsComplete({ code: "for i in range(3):" });
    assert.deepEqual(incomplete.content, { status: "incomplete", indent: "    " });
    const inspection = await kernel.requestInspect({ code: "value", cursor_pos: 5, detail_level: 0 });
    assert.ok(inspection.content.status === "ok" && inspection.content.found);
    assert.match(String(inspection.content.data["text/plain"]), /int/);

    const looping = kernel.requestExecute({ code: "import time\nwhile True:\n    time.sleep(0.05)" });
    const running = new Promise<void>((resolve) => {
      looping.onIOPub = (message) => {
        if (message.header.msg_type === "execute_input") resolve();
      };
    });
    await running;
    await kernel.interrupt();
    const interrupted = await looping.done;
    assert.equal(interrupted.content.status, "error");
    assert.equal(interrupted.content.status === "error" && interrupted.content.ename, "KeyboardInterrupt");

    await kernel.restart();
    const after = await kernel.requestExecute({ code: "value" }).done;
    assert.equal(after.content.status === "error" && after.content.ename, "NameError", "the restart dropped the variables");
  } finally {
    await kernel.shutdown();
    manager.dispose();
  }
  assert.equal((await rest(server.url, token, "GET", `/api/kernels/${kernel.id}`)).status, 404);
});
