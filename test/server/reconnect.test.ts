// Disconnects lose nothing: the session keeps running and replays what a client missed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import type { ServerFrame } from "../../protocol/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ REPLAY_BUFFER_BYTES: "4000" });
const token = await server.token();

test("attaching with since replays exactly the frames after it", async () => {
  const first = await RawSocket.connect(server.url, "/v1/sessions", token);
  const id = first.welcome.session_id;
  first.send({ type: "execute", id: "a", code: "print('one')" });
  const seen = await first.next("result");
  first.socket.terminate(); // a dropped connection: the session does not end
  await first.closed;

  // Runs while nobody is connected; its frames wait in the session's history.
  const runner = await RawSocket.connect(server.url, `/v1/sessions/${id}`, token);
  runner.send({ type: "execute", id: "b", code: "print('two')\nprint('three')" });
  await runner.next("result");
  runner.socket.terminate();

  const back = await RawSocket.connect(server.url, `/v1/sessions/${id}?since=${seen.seq}`, token);
  assert.equal(back.welcome.resumed, true);
  const replayed: ServerFrame[] = [];
  for (let frame = await back.next(() => true); ; frame = await back.next(() => true)) {
    replayed.push(frame);
    if (frame.type === "result") break;
  }
  assert.deepEqual(
    replayed.map((frame) => [frame.type, "text" in frame ? frame.text : "id" in frame ? frame.id : ""]),
    [["stream", "two\n"], ["stream", "three\n"], ["result", "b"]],
  );
  const seqs = replayed.map((frame) => ("seq" in frame ? frame.seq : 0));
  assert.deepEqual(seqs, [seen.seq + 1, seen.seq + 2, seen.seq + 3], "strictly increasing, with nothing missed");
  assert.equal(back.welcome.last_seq, seen.seq + 3);
  await back.end();
});

test("asking for frames older than the buffer answers replay_gap and continues", async () => {
  const raw = await RawSocket.connect(server.url, "/v1/sessions", token);
  const id = raw.welcome.session_id;
  raw.send({ type: "execute", id: "flood", code: "for i in range(200):\n    print('x' * 50)" });
  await raw.next("result");
  raw.socket.terminate();
  const back = await RawSocket.connect(server.url, `/v1/sessions/${id}?since=0`, token);
  const gap = await back.next("error");
  assert.equal(gap.code, "replay_gap");
  assert.match(gap.message, /frames 1 to \d+ are no longer buffered/);
  assert.equal((await back.next("result")).id, "flood", "the frames still buffered follow");
  back.send({ type: "execute", id: "after", code: "'continues'" });
  assert.equal((await back.next((frame) => frame.type === "result" && frame.id === "after")).type, "result");
  await back.end();
});

test("the SDK reconnects by itself mid-cell and loses no output", async () => {
  const session = await ReplSession.open(server.url, { token });
  const out: string[] = [];
  let reconnected = false;
  session.on("reconnected", () => (reconnected = true));
  const pending = session.execute("import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.1)", {
    onStdout: (text) => out.push(text),
  });
  setTimeout(() => session.connection!.terminate(), 150);
  const result = await pending;
  assert.equal(reconnected, true);
  assert.equal(out.join(""), "0\n1\n2\n3\n4\n5\n");
  assert.equal(result.stdout, "0\n1\n2\n3\n4\n5\n");
  await session.close();
});

test("cells sent while disconnected are delivered after the reconnect", async () => {
  const session = await ReplSession.open(server.url, { token });
  session.connection!.terminate();
  const result = await session.execute("'sent while offline'");
  assert.equal(result.value, "'sent while offline'");
  await session.close();
});

test("a request written to a connection that dropped before it reached the server ends in replay_gap after the reconnect, and never runs twice", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.execute("runs = 0");
  const running = session.execute("import time\ntime.sleep(0.5)\nruns += 1\nruns");
  await new Promise((resolve) => setTimeout(resolve, 100));
  // The next cell is written to the socket as it dies: it never leaves this machine.
  const socket = session.connection!;
  socket.send = () => {};
  const lost = session.execute("runs += 10\nruns").then(() => null, (error: unknown) => error);
  socket.terminate();
  // The one the server had (running when the connection dropped) is answered as usual.
  assert.equal((await running).value, "1");
  const ended = await lost;
  assert.ok(ended instanceof WasmReplError && ended.code === "replay_gap", `the lost cell ends, its outcome unknown: ${String(ended)}`);
  assert.equal((await session.execute("runs")).value, "1", "and it was not sent again");
  await session.close();
});
