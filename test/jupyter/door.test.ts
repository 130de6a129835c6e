// The Jupyter door against a real server, driven by a bare client (test/helpers/jupyter-client.ts):
// the REST API's answers and refusals, and on the channels what Jupyter's protocol promises:
// busy and idle around every request, stop_on_error, silent cells, restart and shutdown, other
// clients' work broadcast on iopub, and bad frames answered without harm to the connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";
import { KernelChannels, rest, shape, type Message } from "../helpers/jupyter-client.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer();
const token = await server.token();

async function startKernel(): Promise<string> {
  const started = await rest(server.url, token, "POST", "/api/kernels", { name: "python3", env: { KERNEL_GREETING: "hello" } });
  assert.equal(started.status, 201);
  return started.body.id;
}

const LOOP = "import time\nwhile True:\n    time.sleep(0.05)";

test("the REST API answers in the Kernel Gateway's shapes, and refuses what it cannot serve with a code", async () => {
  const api = await fetch(`${server.url}/api`);
  assert.equal(api.status, 200, "GET /api needs no token");
  assert.equal(typeof ((await api.json()) as { version: string }).version, "string");

  const spec = await rest(server.url, token, "GET", "/api/kernelspecs/python3");
  assert.deepEqual(Object.keys(spec.body.spec).sort(), ["argv", "display_name", "env", "interrupt_mode", "language", "metadata"]);
  assert.equal(spec.body.spec.interrupt_mode, "message");
  assert.equal((await rest(server.url, token, "GET", "/api/kernelspecs/julia")).status, 404);

  const id = await startKernel();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const model = await rest(server.url, token, "GET", `/api/kernels/${id}`);
  assert.deepEqual(Object.keys(model.body).sort(), ["connections", "execution_state", "id", "last_activity", "name"]);
  assert.equal(model.body.execution_state, "idle");
  assert.ok(!Number.isNaN(Date.parse(model.body.last_activity)));
  assert.equal((await rest(server.url, token, "GET", `/api/kernels/${id.replaceAll("-", "")}`)).body.id, id, "the undashed form names the same kernel");

  const refusals: Array<[string, string, unknown, number, string]> = [
    ["POST", "/api/kernels", { name: "julia" }, 400, "bad_request"],
    ["POST", "/api/kernels", { name: 7 }, 400, "bad_request"],
    ["POST", "/api/kernels", [], 400, "bad_request"],
    ["GET", "/api/kernels/not-a-kernel", undefined, 404, "session_not_found"],
    ["GET", "/api/kernels/00000000-0000-0000-0000-000000000000", undefined, 404, "session_not_found"],
    ["POST", "/api/kernels/00000000-0000-0000-0000-000000000000/interrupt", {}, 404, "session_not_found"],
  ];
  for (const [method, path, body, status, code] of refusals) {
    const answer = await rest(server.url, token, method, path, body);
    assert.equal(answer.status, status, `${method} ${path} ${JSON.stringify(body)}`);
    assert.equal(answer.body.code, code);
  }
  const broken = await fetch(`${server.url}/api/kernels`, { method: "POST", headers: { authorization: `token ${token}` }, body: "{nope" });
  assert.equal(broken.status, 400);
  assert.equal((await fetch(`${server.url}/api/kernels`)).status, 401, "no token");
  const reader = await server.token({ scopes: ["sessions:read"] });
  assert.equal((await rest(server.url, reader, "POST", "/api/kernels", {})).status, 403, "starting a kernel needs sessions:create");
  assert.equal((await rest(server.url, reader, "DELETE", `/api/kernels/${id}`)).status, 403, "ending one needs sessions:execute");
  const stranger = await server.token({ user: "mallory" });
  assert.equal((await rest(server.url, stranger, "GET", `/api/kernels/${id}`)).status, 404, "another user's kernel is missing to them");
  assert.deepEqual((await rest(server.url, stranger, "GET", "/api/kernels")).body, []);

  assert.equal((await rest(server.url, token, "DELETE", `/api/kernels/${id}`)).status, 204);
  const gone = await rest(server.url, token, "GET", `/api/kernels/${id}`);
  assert.equal(gone.status, 404, "an ended kernel is missing to Jupyter's clients, which know no 410");
  assert.match(gone.body.message, /ended \(closed\)/);
});

test("every request is answered between busy and idle with the request as parent, on the channel it came on", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  const info = await channels.request("kernel_info_request", {}, "control");
  assert.equal(info.reply.channel, "control");
  assert.deepEqual(shape(info.iopub), ["status:busy", "status:idle"]);
  const comms = await channels.request("comm_info_request", {});
  assert.deepEqual(comms.reply.content, { status: "ok", comms: {} });
  const opened = await channels.exchangeOf(channels.send("comm_open", { comm_id: "c1", target_name: "jupyter.widget", data: {} }).msg_id, null);
  assert.deepEqual(shape(opened.iopub), ["status:busy", "comm_close", "status:idle"], "no widget runs: the comm is closed at once");
  assert.deepEqual(opened.iopub[1]!.content, { comm_id: "c1", data: {} });
  await channels.exchangeOf(channels.send("comm_msg", { comm_id: "c1", data: {} }).msg_id, null);
  // nbclient's gateway client says no channel: the reply comes on the one the type belongs to.
  const unsaid = await channels.request("kernel_info_request", {}, null);
  assert.equal(unsaid.reply.channel, "shell");
  assert.equal(unsaid.reply.parent_header.msg_id, unsaid.iopub[0]!.parent_header.msg_id);
  await channels.close();
});

test("bad frames are answered with bad_request, and the connection goes on", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  channels.socket.send("{not json");
  const unreadable = await channels.next((message) => message.header.msg_type === "error");
  assert.equal(unreadable.channel, "iopub");
  assert.equal(unreadable.content.ename, "bad_request");
  assert.match(unreadable.content.evalue, /not valid JSON/);
  channels.socket.send(Buffer.from([1, 2, 3]), { binary: true });
  await channels.next((message) => message.header.msg_type === "error" && /too short/.test(message.content.evalue));

  const unknown = await channels.request("frobnicate_request", {});
  assert.equal(unknown.reply.header.msg_type, "frobnicate_reply");
  assert.deepEqual([unknown.reply.content.status, unknown.reply.content.ename], ["error", "bad_request"]);
  const mistyped = await channels.request("execute_request", { code: 42 });
  assert.equal(mistyped.reply.content.ename, "bad_request");
  assert.match(mistyped.reply.content.evalue, /code must be a string/);
  assert.deepEqual(shape(mistyped.iopub), ["status:busy", "status:idle"]);

  assert.equal((await channels.execute("6 * 7")).reply.content.status, "ok", "the connection still serves");
  await channels.close();
});

test("a failed cell aborts the cells its client queued behind it, unless stop_on_error is off", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  const cell = (code: string, extra: Record<string, unknown> = {}) => channels.send("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra });
  // Frames are handled in the order they came: both cells are queued before the interrupt, sent
  // once the first runs, fails it.
  const running = (header: { msg_id: string }) => channels.next((message) => message.parent_header.msg_id === header.msg_id && message.header.msg_type === "execute_input");
  const looping = cell(LOOP);
  const queued = [cell("x = 1"), cell("x")];
  await running(looping);
  channels.send("interrupt_request", {}, "control");
  assert.equal((await channels.exchangeOf(looping.msg_id, "execute_reply")).reply.content.ename, "KeyboardInterrupt");
  for (const header of queued) {
    const aborted = await channels.exchangeOf(header.msg_id, "execute_reply");
    assert.equal(aborted.reply.content.status, "aborted");
    assert.deepEqual(shape(aborted.iopub), ["status:busy", "status:idle"]);
  }
  assert.equal((await channels.execute("x")).reply.content.ename, "NameError", "the aborted cells never ran");

  const lenient = cell(LOOP, { stop_on_error: false });
  const after = cell("y = 2");
  await running(lenient);
  channels.send("interrupt_request", {}, "control");
  assert.equal((await channels.exchangeOf(lenient.msg_id, "execute_reply")).reply.content.status, "error");
  assert.equal((await channels.exchangeOf(after.msg_id, "execute_reply")).reply.content.status, "ok");
  await channels.close();
});

test("a silent cell publishes nothing but its status; its effects stay", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  const silent = await channels.execute("z = 5\nprint('unseen')\nz", { silent: true });
  assert.equal(silent.reply.content.status, "ok");
  assert.deepEqual(shape(silent.iopub), ["status:busy", "status:idle"]);
  const seen = await channels.execute("z + 1");
  assert.equal(seen.iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"], "6");
  await channels.close();
});

test("shutdown_request restarts the kernel (restart: true) or ends it, answered on control and iopub", async () => {
  const id = await startKernel();
  const channels = await KernelChannels.open(server.url, id, token);
  await channels.execute("kept = 1");
  const restarted = await channels.request("shutdown_request", { restart: true }, "control");
  assert.deepEqual(restarted.reply.content, { status: "ok", restart: true });
  assert.equal(restarted.reply.channel, "control");
  assert.deepEqual(shape(restarted.iopub), ["status:busy", "shutdown_reply", "status:idle"]);
  const fresh = await channels.execute("kept");
  assert.equal(fresh.reply.content.ename, "NameError");
  assert.deepEqual([fresh.iopub[1]!.header.msg_type, fresh.iopub[1]!.content.execution_count, fresh.reply.content.execution_count], ["execute_input", 1, 1], "a restarted kernel counts from 1");

  const closed = channels.closed();
  const ended = await channels.request("shutdown_request", { restart: false }, "control");
  assert.deepEqual(ended.reply.content, { status: "ok", restart: false });
  assert.equal(await closed, 1000);
  assert.equal((await rest(server.url, token, "GET", `/api/kernels/${id}`)).status, 404);
});

test("a client sees the work of the kernel's other clients on iopub, under the parent of that work", async () => {
  const id = await startKernel();
  const [mine, theirs] = [await KernelChannels.open(server.url, id, token), await KernelChannels.open(server.url, id, token, { v1: true })];
  assert.equal((await rest(server.url, token, "GET", `/api/kernels/${id}`)).body.connections, 2);
  const ran = await mine.execute("print('shared'); 1 + 1");
  const seen = await theirs.next((message) => message.header.msg_type === "status" && message.content.execution_state === "idle" && message.parent_header.msg_id !== undefined);
  const broadcast = theirs.received.filter((message: Message) => message.parent_header.msg_id === seen.parent_header.msg_id);
  assert.deepEqual(shape(broadcast), ["status:busy", "stream", "execute_result", "status:idle"]);
  assert.equal(broadcast[1]!.content.text, "shared\n");
  assert.ok(!theirs.received.some((message) => message.parent_header.msg_id === ran.reply.parent_header.msg_id), "the request's own header stays with its client");
  assert.ok(!theirs.received.some((message) => message.channel === "shell"), "replies go to the requester alone");
  await Promise.all([mine.close(), theirs.close()]);
});

test("the channels of a kernel that does not exist, or of another user's, are refused before the socket opens", async () => {
  const status = (kernel: string, bearer: string) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`${server.url.replace("http", "ws")}/api/kernels/${kernel}/channels`, { headers: { authorization: `token ${bearer}` } });
      socket.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      socket.once("open", () => resolve(101));
    });
  assert.equal(await status("00000000-0000-0000-0000-000000000000", token), 404);
  assert.equal(await status("garbage", token), 404);
  assert.equal(await status(await startKernel(), await server.token({ user: "mallory" })), 404);
});

test("input() asks on stdin, and in a cell of a client that cannot answer (allow_stdin false) raises EOFError at once", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  const asking = channels.send("execute_request", { code: "answer = input('name? ')\nanswer.upper()", allow_stdin: true });
  const request = await channels.next((message) => message.channel === "stdin" && message.parent_header.msg_id === asking.msg_id);
  assert.deepEqual([request.header.msg_type, request.content.prompt, request.content.password], ["input_request", "name? ", false]);
  channels.send("input_reply", { value: "wasm" }, "stdin");
  const answered = await channels.exchangeOf(asking.msg_id, "execute_reply");
  assert.equal(answered.iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"], "'WASM'");

  // Refused as any message the kernel cannot take: a reply of its type with status error.
  const stray = await channels.exchangeOf(channels.send("input_reply", { value: "nobody asked" }, "stdin").msg_id, "input_reply_reply");
  assert.match(stray.reply.content.evalue, /no cell of this client is waiting for input/);

  const unanswerable = await channels.execute("input('never asked? ')", { allow_stdin: false });
  assert.equal(unanswerable.reply.content.ename, "EOFError");
  assert.match(unanswerable.reply.content.evalue, /input\(\) is not available/);
  assert.ok(!channels.received.some((message) => message.channel === "stdin" && message.parent_header.msg_id === unanswerable.reply.parent_header.msg_id));
  await channels.close();
});

test("history answers with the code that ran, leaving out this client's store_history false cells", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  await channels.execute("a = 1");
  await channels.execute("b = 2", { store_history: false });
  await channels.execute("a + 1");
  const tail = await channels.request("history_request", { hist_access_type: "tail", n: 10, output: false, raw: true });
  assert.deepEqual(tail.reply.content.history, [[1, 1, "a = 1"], [1, 3, "a + 1"]]);
  const search = await channels.request("history_request", { hist_access_type: "search", pattern: "a*", output: true, raw: true });
  assert.deepEqual(search.reply.content.history, [[1, 1, ["a = 1", null]], [1, 3, ["a + 1", null]]]);
  await channels.close();
});

test("a kernel's env (a gateway client's KERNEL_* variables) is its os.environ; a bad one is refused", async () => {
  const channels = await KernelChannels.open(server.url, await startKernel(), token);
  const seen = await channels.execute("import os\nos.environ['KERNEL_GREETING']");
  assert.equal(seen.iopub.find((message) => message.header.msg_type === "execute_result")?.content.data["text/plain"], "'hello'");
  await channels.close();
  const refused = await rest(server.url, token, "POST", "/api/kernels", { name: "python3", env: { "not a name": "x" } });
  assert.deepEqual([refused.status, refused.body.code], [400, "bad_request"]);
});
