// Restoring a snapshot copies only its data pages into the fresh heap (guest/restore.ts): every
// byte that is not zero arrives, wherever Pyodide's header puts the heap in the snapshot's buffer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dataPageRuns, sparseRestoreFactory } from "../../server/sandbox/guest/restore.ts";

const PAGE = 4096;
/** Pyodide's snapshot: a header (its JSON, padded to 16 bytes), then the heap. */
const HEADER = 208;

function fakeModule(heapBytes: number) {
  let heap = new Int8Array(heapBytes);
  return {
    get HEAP8() {
      return heap;
    },
    _malloc(bytes: number) {
      const grown = new Int8Array(heap.length + bytes);
      grown.set(heap);
      heap = grown;
      return 1;
    },
  };
}

/** A snapshot whose heap holds data only in the last bytes of its second page, after a zero page. */
function snapshot(): { whole: Uint8Array; heap: Uint8Array } {
  const heap = new Uint8Array(4 * PAGE);
  heap.fill(7, 2 * PAGE - 100, 2 * PAGE);
  heap.fill(9, 3 * PAGE, 3 * PAGE + 10);
  const whole = new Uint8Array(HEADER + heap.byteLength);
  whole.set(heap, HEADER);
  return { whole, heap };
}

for (const known of [true, false]) {
  test(`every data byte of the heap arrives at its place (${known ? "page runs known ahead, of the whole buffer" : "page runs found while copying"})`, async () => {
    const { whole, heap } = snapshot();
    const module = fakeModule(PAGE);
    const factory = sparseRestoreFactory(async () => module, whole.byteLength, known ? dataPageRuns(whole) : null);
    const restored = await factory({});
    assert.ok(restored.HEAP8.length >= whole.byteLength, "the heap was grown to fit the snapshot");
    restored.HEAP8.set(whole.subarray(HEADER));
    assert.deepEqual(new Uint8Array(restored.HEAP8.buffer, 0, heap.byteLength), heap);
  });
}
