import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeFrame, FrameDecoder, FrameForged, FrameTooLarge } from "../../server/sandbox/ipc.ts";

test("frames survive being split at every byte and glued together", () => {
  const body = new Uint8Array([1, 2, 3, 250]);
  const bytes = new Uint8Array([...encodeFrame({ type: "a", text: "héllo\n" }), ...encodeFrame({ type: "b" }, body)]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const decoder = new FrameDecoder<{ type: string; text?: string }>(1024);
    const frames = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
    assert.deepEqual(
      frames.map((frame) => frame.message),
      [{ type: "a", text: "héllo\n" }, { type: "b" }],
    );
    assert.equal(frames[0]!.body, null);
    assert.deepEqual([...frames[1]!.body!], [...body]);
  }
});

test("a frame larger than the limit is refused before it is buffered", () => {
  const decoder = new FrameDecoder(64);
  const frame = encodeFrame({ text: "x".repeat(100) });
  assert.throws(() => decoder.push(frame.subarray(0, 8)), FrameTooLarge);
});

test("a header that is not a JSON object is refused", () => {
  const header = new TextEncoder().encode("[1]");
  const frame = new Uint8Array(8 + header.length);
  new DataView(frame.buffer).setUint32(0, header.length, true);
  frame.set(header, 8);
  assert.throws(() => new FrameDecoder(1024).push(frame), /not a JSON object/);
});

test("with a key, frames must carry it: forged bytes are refused before their body is buffered", () => {
  const key = new Uint8Array(16).fill(7);
  const decoder = new FrameDecoder<{ ok: boolean }>(1 << 30, key);
  assert.deepEqual(decoder.push(encodeFrame({ ok: true }, undefined, key))[0]!.message, { ok: true });
  const forged = encodeFrame({ ok: false }, undefined, new Uint8Array(16));
  assert.throws(() => decoder.push(forged), FrameForged);
  const hugeWithoutKey = new Uint8Array(24);
  new DataView(hugeWithoutKey.buffer).setUint32(0, 2 ** 30 - 64, true);
  assert.throws(() => new FrameDecoder(1 << 30, key).push(hugeWithoutKey), FrameForged);
});
