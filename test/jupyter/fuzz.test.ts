// Random frames at a kernel's channels, in both framings: whatever comes in is answered for
// itself (a bad_request, never an internal error), and the connection and the kernel go on.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { serialize } from "@jupyterlab/services/lib/kernel/serialize.js";
import { MAX_JSON_DEPTH } from "../../protocol/json.ts";
import { JUPYTER_SUBPROTOCOL } from "../../server/jupyter/framing.ts";
import { KernelChannels, rest } from "../helpers/jupyter-client.ts";
import { startTestServer } from "../helpers/server.ts";

const RUNS = { numRuns: 150 };
const server = await startTestServer();
const token = await server.token();

const value = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(1e308, -1, 2 ** 53 + 1, "\ud800", "\u0000", "", [], {}), fc.string({ unit: "grapheme", maxLength: 80 }));
const deep = fc.integer({ min: MAX_JSON_DEPTH - 2, max: 5000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth));
/** Types the kernel answers without lasting effects (no cell, no shutdown), and made-up ones. */
const msgType = fc.oneof(
  fc.constantFrom("kernel_info_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", "input_reply"),
  fc.string({ maxLength: 20 }),
);
const content = fc.dictionary(fc.constantFrom("code", "cursor_pos", "detail_level", "hist_access_type", "n", "pattern", "unique", "session", "start", "stop", "output", "comm_id", "target_name", "value", "restart"), value, { maxKeys: 5 });
const header = fc.record({ msg_id: fc.oneof(fc.uuid(), value), msg_type: fc.oneof(msgType, value), session: value, date: value, version: value }, { requiredKeys: [] });
const message = fc.record({ channel: fc.oneof(fc.constantFrom("shell", "control", "stdin", "iopub"), value), header, parent_header: value, metadata: value, content: fc.oneof(content, value) }, { requiredKeys: [] });
const text = fc.oneof(
  message.map((parts) => JSON.stringify(parts)),
  fc.tuple(msgType, content).map(([type, body]) => JSON.stringify({ header: { msg_id: "m", msg_type: type }, content: body })),
  deep,
  fc.string({ unit: "binary", maxLength: 60 }),
);
const binary = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 8 }), fc.uint8Array({ maxLength: 64 })).map(([count, offsets, rest]) => {
    const head = Buffer.alloc(8 * (offsets.length + 1));
    head.writeBigUInt64LE(count, 0);
    offsets.forEach((offset, index) => head.writeBigUInt64LE(offset, 8 * (index + 1)));
    return new Uint8Array(Buffer.concat([head, rest]));
  }),
  fc.tuple(msgType, content).map(([type, body]) => new Uint8Array(serialize({ channel: "shell", header: { msg_id: "m", msg_type: type }, parent_header: {}, metadata: {}, content: body, buffers: [] } as never, JUPYTER_SUBPROTOCOL) as ArrayBuffer)),
);

for (const v1 of [false, true]) {
  test(`random frames in the ${v1 ? "v1 binary" : "legacy JSON"} framing are answered for themselves; the kernel goes on`, { timeout: 120_000 }, async () => {
    const kernelId = (await rest(server.url, token, "POST", "/api/kernels", {})).body.id;
    const channels = await KernelChannels.open(server.url, kernelId, token, { v1 });
    assert.equal(channels.v1, v1);
    await fc.assert(
      fc.asyncProperty(fc.oneof(text.map((frame) => ({ frame, binary: false })), binary.map((frame) => ({ frame, binary: true }))), async ({ frame, binary: isBinary }) => {
        channels.socket.send(frame, { binary: isBinary });
        // Frames are handled in order: the probe's reply means the frame was dealt with.
        await channels.request("kernel_info_request", {});
        const internal = channels.received.filter((received) => received.content.ename === "internal");
        assert.deepEqual(internal, []);
      }),
      RUNS,
    );
    const alive = await channels.execute("'alive'");
    assert.equal(alive.reply.content.status, "ok");
    await channels.close();
  });
}
