// Large client frames are parsed by worker threads (server/v1/frame-parser.ts), not by the
// thread that serves every session: what they say, their order and their refusals are unchanged.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { WebSocket, WebSocketServer } from "ws";
import { parseClientFrame } from "../../protocol/index.ts";
import type { FrameParser } from "../../server/v1/frame-parser.ts";
import { FrameParser as Pool, OFF_THREAD_BYTES } from "../../server/v1/frame-parser.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const MIB = 1024 * 1024;
// Order and refusals, not rate limits (budgets.test.ts): some tests send thousands of frames.
const server = await startTestServer({ MAX_OUTPUT_BYTES: String(4 * MIB), FRAME_RATE: "0", BYTE_RATE_MB: "0" });
// The app's pool, to watch it work and to make one of its workers fail.
const parser = (server.app as unknown as { parser: FrameParser }).parser;
const BIG = 2 * MIB;
assert.ok(BIG > OFF_THREAD_BYTES);

async function session(): Promise<RawSocket> {
  return RawSocket.connect(server.url, "/v1/sessions", await server.token());
}

const resultOf = (raw: RawSocket, id: string) => raw.next((frame) => (frame.type === "result" || frame.type === "error") && "id" in frame && frame.id === id, 60_000);

/** Counts the frames the pool is handed. */
function countingParses(): { count: number; restore: () => void } {
  const original = parser.parse;
  const counter = {
    count: 0,
    restore: () => {
      parser.parse = original;
    },
  };
  parser.parse = (data) => {
    counter.count++;
    return original.call(parser, data);
  };
  return counter;
}

test("a large execute is parsed by a worker and runs its code", { timeout: 120_000 }, async () => {
  const raw = await session();
  const parses = countingParses();
  try {
    // Non-Latin-1 text as well, so the worker's decoding is checked, not only its parsing.
    raw.send({ type: "execute", id: "big", code: `x = '${"a".repeat(BIG)}' + 'é€😀'\nlen(x)`, locals: "none" });
    const result = await resultOf(raw, "big");
    assert.equal(result.type === "result" && result.value, String(BIG + 3), JSON.stringify(result).slice(0, 300));
    assert.equal(parses.count, 1, "the frame went to the pool");
    assert.ok(parser.workers >= 1);
  } finally {
    parses.restore();
  }
  await raw.end();
});

test("a large add_context, then a small execute sent at once, are handled in order: the execute sees the variable", { timeout: 120_000 }, async () => {
  const raw = await session();
  const payload = `${"ü".repeat(BIG)}!`;
  raw.send({ type: "add_context", id: "ctx", payload });
  // Behind the large frame on the same connection: it must wait for it, not overtake it.
  raw.send({ type: "execute", id: "len", code: "len(context_0), context_0[-2:]" });
  raw.send({ type: "ping", id: "after" });
  const context = await resultOf(raw, "ctx");
  assert.equal(context.type, "result");
  const length = await resultOf(raw, "len");
  assert.equal(length.type === "result" && length.value, `(${BIG + 1}, 'ü!')`);
  assert.ok(context.type === "result" && length.type === "result" && context.seq < length.seq, "the add_context was queued before the execute");
  await raw.next((frame) => frame.type === "pong" && frame.id === "after");

  // A JSON value as the payload (not a string) becomes the same variable it did on the serving thread.
  const items = Array.from({ length: 200_000 }, (_, i) => ({ i }));
  raw.send({ type: "add_context", id: "json", index: 5, payload: { items } });
  raw.send({ type: "execute", id: "items", code: "len(context_5['items']), context_5['items'][-1]" });
  const json = await resultOf(raw, "items");
  assert.equal(json.type === "result" && json.value, "(200000, {'i': 199999})", JSON.stringify(json).slice(0, 300));
  await raw.end();
});

test("many frames around large ones keep their order on one connection", { timeout: 120_000 }, async () => {
  const raw = await session();
  const parses = countingParses();
  const sent: string[] = [];
  for (let i = 0; i < 6; i++) {
    const id = `p${i}`;
    sent.push(id);
    // Every other frame is large (padded after its JSON): small ones queue behind large ones, large ones behind each other.
    raw.send(i % 2 === 0 ? JSON.stringify({ type: "ping", id }) : JSON.stringify({ type: "ping", id }) + " ".repeat(OFF_THREAD_BYTES * 2));
  }
  const answered: string[] = [];
  try {
    for (let i = 0; i < sent.length; i++) answered.push(((await raw.next("pong")) as { id: string }).id);
  } finally {
    parses.restore();
  }
  assert.deepEqual(answered, sent, "pongs come in the order of their pings");
  assert.equal(parses.count, 3, "the three large pings went to the pool");
  await raw.end();
});

test("while a connection's large frame is parsed its socket is not read: what queues behind it stays small, then all is answered in order", { timeout: 120_000 }, async () => {
  const raw = await session();
  const clients = (server.app as unknown as { sockets: WebSocketServer }).sockets.clients;
  const ours = [...clients].at(-1) as WebSocket;
  let read = 0;
  ours.on("message", (data: Buffer) => (read += data.length));
  const original = parser.parse;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  parser.parse = async (data) => {
    parser.parse = original;
    await held;
    return original.call(parser, data);
  };
  const big = JSON.stringify({ type: "ping", id: "big" }) + " ".repeat(MIB);
  raw.send(big);
  const ids = Array.from({ length: 6000 }, (_, i) => `s${i}`);
  // 48 MiB of small frames: more than the kernel's socket buffers take on loopback.
  for (const id of ids) raw.send(JSON.stringify({ type: "ping", id }) + " ".repeat(8 * 1024));
  // Until the client has nothing more it can hand to the socket.
  for (let last = -1, same = 0; same < 10; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = raw.socket.bufferedAmount;
    same = now === last ? same + 1 : 0;
    last = now;
  }
  assert.equal(raw.frames.length, 0, "nothing was answered ahead of the large frame");
  assert.ok(read - big.length <= MIB, `${read - big.length} bytes were read behind the large frame while it was parsed`);
  release();
  const answered: string[] = [];
  for (let i = 0; i <= ids.length; i++) answered.push(((await raw.next("pong", 60_000)) as { id: string }).id);
  assert.deepEqual(answered, ["big", ...ids]);
  await raw.end();
});

test("a malformed large frame gets the usual bad_request message; the connection and the server go on", { timeout: 120_000 }, async () => {
  const raw = await session();
  const unterminated = `{"type":"execute","id":"bad","code":"${"a".repeat(BIG)}`;
  raw.send(unterminated);
  const notJson = await raw.next("error");
  assert.equal(notJson.code, "bad_request");
  assert.equal(notJson.message, (parseClientFrame(unterminated) as { message: string }).message);
  assert.match(notJson.message, /not valid JSON/);

  const mistyped = JSON.stringify({ type: "add_context", id: "c", payload: "p".repeat(BIG), more: "yes" });
  raw.send(mistyped);
  const wrongField = await raw.next("error");
  assert.equal(wrongField.code, "bad_request");
  assert.equal(wrongField.message, (parseClientFrame(mistyped) as { message: string }).message);
  assert.match(wrongField.message, /more/);

  raw.send({ type: "execute", id: "after", code: "1 + 1" });
  const after = await resultOf(raw, "after");
  assert.equal(after.type === "result" && after.value, "2");
  await raw.end();
});

test("a worker that fails answers its frame internal, is replaced, and the connection goes on", { timeout: 120_000 }, async () => {
  const raw = await session();
  const original = parser.parse;
  // The next frame handed to the pool has its worker terminated under it, as a crash would.
  parser.parse = (data) => {
    parser.parse = original;
    const outcome = original.call(parser, data);
    const busy = (parser as unknown as { slots: { worker: { terminate(): Promise<number> }; job: unknown }[] }).slots.find((slot) => slot.job !== null);
    assert.ok(busy, "no worker took the frame");
    void busy.worker.terminate();
    return outcome;
  };
  raw.send({ type: "execute", id: "crash", code: `# ${"c".repeat(BIG)}\n1` });
  raw.send({ type: "execute", id: "small", code: "'next'" });
  const crashed = await raw.next("error");
  assert.equal(crashed.code, "internal");
  assert.match(crashed.message, /could not parse this frame/);
  assert.equal(parser.parse, original, "the failure was injected once");
  const small = await resultOf(raw, "small");
  assert.equal(small.type === "result" && small.value, "'next'");
  raw.send({ type: "execute", id: "again", code: `# ${"c".repeat(BIG)}\n'parsed again'` });
  const again = await resultOf(raw, "again");
  assert.equal(again.type === "result" && again.value, "'parsed again'", "a new worker parses the next large frame");
  await raw.end();
});

test("a frame that exhausts a worker's heap is answered internal; the pool goes on (its own pool, a small heap)", { timeout: 120_000 }, async () => {
  const pool = new Pool({ maxFrameBytes: MIB, heapMb: 16, workers: 1 });
  try {
    const bomb = Buffer.from(`{"type":"set_vars","vars":{"a":[${"[],".repeat(2_000_000)}[]]}}`);
    const outcome = await pool.parse(bomb);
    assert.deepEqual({ ok: outcome.ok, code: !outcome.ok && "code" in outcome && outcome.code }, { ok: false, code: "internal" });
    assert.match(!outcome.ok ? outcome.message : "", /more memory/);
    const fine = await pool.parse(Buffer.from(JSON.stringify({ type: "ping", id: "x" })));
    assert.deepEqual(fine, { ok: true, frame: { type: "ping", id: "x" } });
  } finally {
    await pool.close();
  }
  assert.equal(pool.workers, 0);
  const closed = await pool.parse(Buffer.from("{}"));
  assert.equal(!closed.ok && "code" in closed && closed.code, "internal", "a closed pool answers without a worker");
});
