// Restoring a memory snapshot into a heap big enough for it, without making its zero pages
// resident. Pyodide copies the whole snapshot into the fresh WebAssembly memory with HEAP8.set;
// the memory is zero already, so copying only the pages that hold data leaves the rest
// untouched and unbacked: megabytes less resident per sandbox. And a session whose heap grew
// past the base's size would not fit (Pyodide issue #6254): the heap is grown first.

const PAGE = 4096;

type ModuleFactory = (settings: object) => Promise<{ HEAP8: Int8Array; _malloc(bytes: number): number }>;

const GROWTH_STEP = 16 * 1024 * 1024;

/**
 * Wraps Pyodide's module factory: the heap fits `snapshotBytes`, and the copy skips zero pages.
 * `beforeCopy` runs once the module is ready and before the snapshot is copied into its heap.
 */
export function sparseRestoreFactory(factory: ModuleFactory, snapshotBytes: number, beforeCopy: () => void): ModuleFactory {
  return async (settings) => {
    const module = await factory(settings);
    // The blocks are never freed: the restore overwrites the whole heap, allocator state included.
    while (module.HEAP8.length < snapshotBytes) {
      if (module._malloc(Math.min(GROWTH_STEP, snapshotBytes - module.HEAP8.length + 4096)) === 0) {
        throw new Error(`the snapshot needs a heap of ${snapshotBytes} bytes, more than this sandbox may have`);
      }
    }
    beforeCopy();
    const heap = module.HEAP8;
    Object.defineProperty(heap, "set", {
      configurable: true,
      value(source: ArrayLike<number> & { byteLength?: number; subarray?: (start: number, end: number) => Int8Array }, offset = 0) {
        delete (heap as { set?: unknown }).set; // once: later writes are ordinary
        if (offset !== 0 || !(source instanceof Int8Array || source instanceof Uint8Array)) return heap.set(source, offset);
        copyNonZeroPages(heap, new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
      },
    });
    return module;
  };
}

function copyNonZeroPages(target: Int8Array, source: Uint8Array): void {
  const words = source.byteOffset % 8 === 0 ? new BigUint64Array(source.buffer, source.byteOffset, Math.floor(source.byteLength / 8)) : null;
  const destination = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  for (let start = 0; start < source.byteLength; start += PAGE) {
    const end = Math.min(start + PAGE, source.byteLength);
    if (!isZero(source, words, start, end)) destination.set(source.subarray(start, end), start);
  }
}

function isZero(bytes: Uint8Array, words: BigUint64Array | null, start: number, end: number): boolean {
  if (words && end - start === PAGE) {
    for (let index = start / 8; index < end / 8; index++) if (words[index] !== 0n) return false;
    return true;
  }
  for (let index = start; index < end; index++) if (bytes[index] !== 0) return false;
  return true;
}
