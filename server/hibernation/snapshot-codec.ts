// How a session snapshot is stored: only what differs from the base snapshot every sandbox
// boots from, compressed. A session that ran a few small cells differs from the base in a few
// hundred pages, and XOR with the base page makes even those mostly zeros.
//
// Format (before gzip): "WRS2", u32 snapshot length, u32 base length, u32 page count, then a
// bitmap of changed pages padded to whole 32-bit words (so pages stay word-aligned), then each
// changed page XORed with the base's page at the same offset (zeros past the base's end; an
// all-zero page there is unchanged).
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";

const MAGIC = 0x32535257; // "WRS2" little-endian
const PAGE = 4096;
const HEADER = 16;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export class SnapshotCorrupt extends Error {}

export async function encodeSnapshot(snapshot: Uint8Array, base: Uint8Array): Promise<Uint8Array> {
  const pages = Math.ceil(snapshot.byteLength / PAGE);
  const bitmap = new Uint8Array(bitmapBytes(pages));
  const changed: Uint8Array[] = [];
  for (let page = 0; page < pages; page++) {
    const start = page * PAGE;
    const mine = snapshot.subarray(start, start + PAGE);
    const theirs = basePage(base, start, mine.byteLength);
    if (Buffer.compare(mine, theirs) === 0) continue;
    bitmap[page >> 3]! |= 1 << (page & 7);
    const xored = new Uint8Array(mine); // a copy: word-aligned
    xorInto(xored, theirs);
    changed.push(xored);
  }
  const header = new Uint8Array(HEADER);
  const view = new DataView(header.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, snapshot.byteLength, true);
  view.setUint32(8, base.byteLength, true);
  view.setUint32(12, pages, true);
  // Level 1: most of the gain for a fraction of the time; this runs while a session hibernates.
  return gzipAsync(Buffer.concat([header, bitmap, ...changed]), { level: 1 });
}

export async function decodeSnapshot(encoded: Uint8Array, base: Uint8Array): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await gunzipAsync(encoded);
  } catch (error) {
    throw new SnapshotCorrupt(`the stored snapshot does not decompress: ${(error as Error).message}`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.byteLength < HEADER || view.getUint32(0, true) !== MAGIC) throw new SnapshotCorrupt("the stored snapshot has no wasm-repl header");
  const length = view.getUint32(4, true);
  if (view.getUint32(8, true) !== base.byteLength) throw new SnapshotCorrupt("the stored snapshot was made against another base snapshot");
  const pages = view.getUint32(12, true);
  const bitmap = raw.subarray(HEADER, HEADER + bitmapBytes(pages));
  const snapshot = new Uint8Array(length);
  snapshot.set(base.subarray(0, Math.min(length, base.byteLength)));
  let offset = HEADER + bitmap.byteLength;
  for (let page = 0; page < pages; page++) {
    if ((bitmap[page >> 3]! & (1 << (page & 7))) === 0) continue;
    const start = page * PAGE;
    const size = Math.min(PAGE, length - start);
    if (offset + size > raw.byteLength) throw new SnapshotCorrupt("the stored snapshot is truncated");
    xorInto(snapshot.subarray(start, start + size), raw.subarray(offset, offset + size));
    offset += size;
  }
  return snapshot;
}

/** Padded to whole words, so the pages after it keep the word alignment of the buffer. */
function bitmapBytes(pages: number): number {
  return Math.ceil(pages / 32) * 4;
}

/** The base's bytes at `start`, zero-padded to `length` past its end. */
function basePage(base: Uint8Array, start: number, length: number): Uint8Array {
  const theirs = base.subarray(start, start + length);
  if (theirs.byteLength === length) return theirs;
  const padded = new Uint8Array(length);
  padded.set(theirs);
  return padded;
}

/** target ^= source, a word at a time where both are word-aligned (the common case), else a byte at a time. */
function xorInto(target: Uint8Array, source: Uint8Array): void {
  const words = target.byteOffset % 4 === 0 && source.byteOffset % 4 === 0 ? target.byteLength >> 2 : 0;
  if (words > 0) {
    const to = new Uint32Array(target.buffer, target.byteOffset, words);
    const from = new Uint32Array(source.buffer, source.byteOffset, words);
    for (let index = 0; index < words; index++) to[index]! ^= from[index]!;
  }
  for (let index = words << 2; index < target.byteLength; index++) target[index]! ^= source[index]!;
}
