// What a sandbox's snapshot is: Pyodide's memory snapshot (the heap, at offset 0, so that a
// session's snapshot and the base line up page for page for the host's delta), then the working
// directory's archive (workdir.ts), then a trailer: u32 LE archive length, u32 LE magic "WRWD".
// The host keeps it as opaque bytes; only the guest makes and reads it. Every snapshot has the
// trailer, the base's too, so a restore never has to guess.

const MAGIC = 0x44575257; // "WRWD" little-endian
const TRAILER = 8;

/**
 * A snapshot as the parts it is sent in, one after the other: no copy of a heap-sized buffer
 * is made to join them (the sandbox process writes them to its pipe in turn).
 */
export function snapshotParts(heap: Uint8Array<ArrayBuffer>, archive: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>[] {
  const trailer = new Uint8Array(TRAILER);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, archive.byteLength, true);
  view.setUint32(4, MAGIC, true);
  return [heap, archive, trailer];
}

/** The two parts of a snapshot, as views into it. */
export function splitSnapshot(snapshot: Uint8Array): { heap: Uint8Array; archive: Uint8Array } {
  const end = snapshot.byteLength - TRAILER;
  const trailer = end >= 0 ? new DataView(snapshot.buffer, snapshot.byteOffset + end, TRAILER) : null;
  if (!trailer || trailer.getUint32(4, true) !== MAGIC || trailer.getUint32(0, true) > end) throw new Error("the snapshot has no working directory trailer");
  const archiveStart = end - trailer.getUint32(0, true);
  return { heap: snapshot.subarray(0, archiveStart), archive: snapshot.subarray(archiveStart, end) };
}
