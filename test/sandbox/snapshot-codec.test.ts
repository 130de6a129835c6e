import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { decodeSnapshot, encodeSnapshot, SnapshotCorrupt } from "../../server/hibernation/snapshot-codec.ts";

test("a snapshot round-trips against its base: changed pages, grown heap, zero pages past the base", async () => {
  const base = randomBytes(10 * 4096 + 123);
  const snapshot = new Uint8Array(25 * 4096 + 7);
  snapshot.set(base);
  snapshot[5 * 4096 + 9]! ^= 0xff; // one changed page inside the base
  snapshot.set(randomBytes(4096), 15 * 4096); // data past the base; pages 11-14 and 16+ stay zero
  snapshot[25 * 4096 + 3] = 7; // in the partial last page
  const encoded = await encodeSnapshot(snapshot, base);
  assert.deepEqual(await decodeSnapshot(encoded, base), snapshot);
  const unchanged = await encodeSnapshot(base, base);
  assert.ok(unchanged.byteLength < 200, `an unchanged snapshot stores ${unchanged.byteLength} bytes`);
});

test("a stored snapshot that is damaged or made against another base is refused", async () => {
  const base = randomBytes(4 * 4096);
  const encoded = await encodeSnapshot(randomBytes(4 * 4096), base);
  await assert.rejects(decodeSnapshot(encoded.subarray(0, 20), base), SnapshotCorrupt);
  await assert.rejects(decodeSnapshot(encoded, randomBytes(3 * 4096)), /another base snapshot/);
});
