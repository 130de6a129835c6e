// Restoring a memory snapshot into a heap big enough for it, without making its zero pages
// resident. Pyodide copies the whole snapshot into the fresh WebAssembly memory with HEAP8.set;
// the memory is zero already, so copying only the pages that hold data leaves the rest
// untouched and unbacked: megabytes less resident per sandbox. And Pyodide gives the module its
// default heap whatever the snapshot's size (the INITIAL_MEMORY it sets is never read), so the
// snapshot of a session whose heap grew past it would not fit: the heap is grown first.

const PAGE = 4096;

type ModuleFactory = (settings: object) => Promise<{ HEAP8: Int8Array; _malloc(bytes: number): number }>;

const GROWTH_STEP = 16 * 1024 * 1024;

/**
 * Wraps Pyodide's module factory: the heap fits the snapshot, and the copy skips zero pages.
 * `pages` lists the data pages of the buffer the snapshot is in when they are known already (the
 * base snapshot, whose runs the process works out once); otherwise they are found while copying.
 */
export function sparseRestoreFactory(factory: ModuleFactory, snapshotBytes: number, pages: Int32Array | null): ModuleFactory {
  return async (settings) => {
    const module = await factory(settings);
    // The blocks are never freed: the restore overwrites the whole heap, allocator state included.
    while (module.HEAP8.length < snapshotBytes) {
      if (module._malloc(Math.min(GROWTH_STEP, snapshotBytes - module.HEAP8.length + 4096)) === 0) {
        throw new Error(`the snapshot needs a heap of ${snapshotBytes} bytes, more than this sandbox may have`);
      }
    }
    const heap = module.HEAP8;
    Object.defineProperty(heap, "set", {
      configurable: true,
      value(source: ArrayLike<number> & { byteLength?: number; subarray?: (start: number, end: number) => Int8Array }, offset = 0) {
        delete (heap as { set?: unknown }).set; // once: later writes are ordinary
        if (offset !== 0 || !(source instanceof Int8Array || source instanceof Uint8Array)) return heap.set(source, offset);
        const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
        // Known runs are pages of the whole buffer, whose heap starts after Pyodide's header (at
        // the source's offset, not on a page boundary): they are moved to the heap's places.
        if (pages) copyRuns(heap, new Uint8Array(source.buffer), pages, bytes.byteOffset, bytes.byteLength);
        else copyRuns(heap, bytes, dataPageRuns(bytes), 0, bytes.byteLength);
      },
    });
    return module;
  };
}

/** The runs of pages of `bytes` that hold anything but zeros, as [first page, end page) pairs. */
export function dataPageRuns(bytes: Uint8Array): Int32Array {
  // 32-bit words: a BigUint64Array would allocate a BigInt per comparison.
  const words = bytes.byteOffset % 4 === 0 ? new Int32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4)) : null;
  const runs: number[] = [];
  const pageCount = Math.ceil(bytes.byteLength / PAGE);
  for (let page = 0; page < pageCount; page++) {
    const start = page * PAGE;
    if (isZero(bytes, words, start, Math.min(start + PAGE, bytes.byteLength))) continue;
    if (runs.length > 0 && runs[runs.length - 1] === page) runs[runs.length - 1] = page + 1;
    else runs.push(page, page + 1);
  }
  return Int32Array.from(runs);
}

/** Copies the runs of `source`'s pages that fall in its `length` bytes from `from` to the start of `target`. */
function copyRuns(target: Int8Array, source: Uint8Array, runs: Int32Array, from: number, length: number): void {
  const destination = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  const end = from + length;
  for (let index = 0; index < runs.length; index += 2) {
    const start = Math.max(runs[index]! * PAGE, from);
    const stop = Math.min(runs[index + 1]! * PAGE, end);
    if (start < stop) destination.set(source.subarray(start, stop), start - from);
  }
}

function isZero(bytes: Uint8Array, words: Int32Array | null, start: number, end: number): boolean {
  if (words && end - start === PAGE) {
    for (let index = start / 4; index < end / 4; index++) if (words[index] !== 0) return false;
    return true;
  }
  for (let index = start; index < end; index++) if (bytes[index] !== 0) return false;
  return true;
}
