// The framed protocol between the server and a sandbox process over stdio.
// Imported by both sides: the Node host and the Deno guest, so it uses only web-standard APIs.
//
// A frame is: u32 LE length of a JSON header, u32 LE length of a binary body, the header, the body.
// The body carries bytes that would bloat as JSON (memory snapshots).

/** How the host starts a guest (passed as its only argument). */
export interface GuestSettings {
  /** "build" makes the base snapshot and exits; "boot" restores it and serves cells. */
  mode: "boot" | "build";
  indexURL: string;
  snapshotPath: string;
  bootstrapPath: string;
  memoryCapBytes: number;
  maxOutputBytes: number;
}

export type LocalsMode = "all" | "changed" | "none";
export type StreamName = "stdout" | "stderr";

export interface CellError {
  type: string;
  message: string;
  traceback: string;
}

export type LocalsSummary = Record<string, unknown>;

/** What the guest reports when a cell ends on its own (the host adds what only it can know). */
export interface GuestCellResult {
  cell: number;
  success: boolean;
  stdout: string;
  stderr: string;
  value: string | null;
  locals: LocalsSummary | null;
  execution_count: number;
  execution_time: number;
  error: CellError | null;
  output_dropped_bytes: number;
}

/** Host to guest. */
export type HostMessage =
  | { type: "run"; cell: number; code: string; locals: LocalsMode }
  | { type: "set_vars"; cell: number; vars: Record<string, unknown> }
  | { type: "interrupt" }
  | { type: "snapshot" };

/** Guest to host. */
export type GuestMessage =
  | { type: "ready"; boot_ms: number; pyodide: string }
  | { type: "stream"; cell: number; name: StreamName; text: string }
  | ({ type: "result" } & GuestCellResult)
  | { type: "vars_set"; cell: number; error: CellError | null }
  | { type: "snapshot"; bytes: number }
  | { type: "fatal"; cause: FatalCause; message: string };

/** Why a guest gave up; the host adds causes it observes from outside (see sandbox.ts). */
export type FatalCause = "boot_failed" | "memory_limit" | "stack_overflow" | "interpreter_fatal";

const HEADER_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(message: object, body?: Uint8Array): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const bodyLength = body?.byteLength ?? 0;
  const frame = new Uint8Array(HEADER_BYTES + json.byteLength + bodyLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, json.byteLength, true);
  view.setUint32(4, bodyLength, true);
  frame.set(json, HEADER_BYTES);
  if (body) frame.set(body, HEADER_BYTES + json.byteLength);
  return frame;
}

export interface Frame<M> {
  message: M;
  body: Uint8Array | null;
}

export class FrameTooLarge extends Error {}

/**
 * Reassembles frames from a byte stream. It never trusts the peer: a frame over `maxBytes`
 * or a header that is not a JSON object throws, and the caller treats the peer as broken.
 */
export class FrameDecoder<M> {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Uint8Array): Frame<M>[] {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame<M>[] = [];
    for (;;) {
      if (this.buffered < HEADER_BYTES) return frames;
      const head = this.peek(HEADER_BYTES);
      const view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
      const jsonLength = view.getUint32(0, true);
      const bodyLength = view.getUint32(4, true);
      const total = HEADER_BYTES + jsonLength + bodyLength;
      if (total > this.maxBytes) throw new FrameTooLarge(`frame of ${total} bytes exceeds ${this.maxBytes}`);
      if (this.buffered < total) return frames;
      const bytes = this.take(total);
      const message: unknown = JSON.parse(decoder.decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + jsonLength)));
      if (typeof message !== "object" || message === null || Array.isArray(message)) {
        throw new TypeError("frame header is not a JSON object");
      }
      frames.push({ message: message as M, body: bodyLength > 0 ? bytes.subarray(HEADER_BYTES + jsonLength) : null });
    }
  }

  private peek(length: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= length) return first;
    this.coalesce();
    return this.chunks[0]!;
  }

  private take(length: number): Uint8Array {
    if (this.chunks[0]!.byteLength < length) this.coalesce();
    const first = this.chunks[0]!;
    const taken = first.subarray(0, length);
    if (first.byteLength === length) this.chunks.shift();
    else this.chunks[0] = first.subarray(length);
    this.buffered -= length;
    return taken;
  }

  private coalesce(): void {
    const all = new Uint8Array(this.buffered);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.chunks = [all];
  }
}
