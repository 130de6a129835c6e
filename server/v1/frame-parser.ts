// Large client frames are decoded, parsed and checked off the thread that serves every session:
// a 64 MiB frame is ~110 ms of toString and JSON.parse, and a burst of them (BYTE_BURST_MB) froze
// every other session's cells for seconds. A small pool of worker threads parses them; the
// frame's bytes are transferred, not copied, when they own their buffer.
// A connection's frames are still handled strictly in order: a small frame behind a large one
// waits for it, and the connection's socket is not read while its large frame is being parsed,
// so one connection has at most one large frame in the parser and a few small ones behind it.
import { Worker } from "node:worker_threads";
import type { RawData, WebSocket } from "ws";
import { parseClientFrame, type Parsed } from "../../protocol/index.ts";

/**
 * Frames of at least this many bytes go to a worker. Below it parsing costs the serving thread
 * ~1 ms (a string-heavy frame) to ~7 ms (the worst shape, thousands of small objects), which
 * is about what the trip to a worker and back costs a frame and less than a paused socket costs
 * its connection; above it the cost grows with the frame, to ~110 ms at 64 MiB.
 */
export const OFF_THREAD_BYTES = 256 * 1024;
/** Workers at most: parsing is CPU work, and the server shares its cores with the sandboxes. */
const POOL_SIZE = 2;
const MIB = 1024 * 1024;
const TSX_API = import.meta.resolve("tsx/esm/api");

/** What parsing a frame came to: parseClientFrame's answer, or the parser failed (`internal`). */
export type ParseOutcome = Parsed | { ok: false; code: "internal"; message: string };

export interface ParseRequest {
  job: number;
  bytes: Uint8Array;
}

export interface ParseReply {
  job: number;
  parsed: Parsed;
}

interface Job {
  id: number;
  bytes: Uint8Array;
  resolve: (outcome: ParseOutcome) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

export interface FrameParserOptions {
  /** Frames from this many bytes are parsed by a worker; Infinity: every frame on the serving thread. */
  thresholdBytes?: number;
  /** The largest frame a client may send (MAX_FRAME_BYTES): sizes each worker's heap. */
  maxFrameBytes: number;
  workers?: number;
  /** Each worker's heap; by default 8 times the largest frame (its text, its parsed strings, twice as wide when not Latin-1), 256 MiB at least. */
  heapMb?: number;
  /** The worker's script (tests substitute one that fails). */
  script?: URL;
}

/** The pool: workers are started when the first large frame comes, replaced when one fails, and do not keep the process alive. */
export class FrameParser {
  readonly thresholdBytes: number;
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private readonly size: number;
  private readonly heapMb: number;
  private readonly script: URL;
  private nextJob = 0;
  private closed = false;

  constructor(options: FrameParserOptions) {
    this.thresholdBytes = options.thresholdBytes ?? OFF_THREAD_BYTES;
    this.size = Math.max(1, options.workers ?? POOL_SIZE);
    this.heapMb = options.heapMb ?? Math.max(256, Math.ceil((8 * options.maxFrameBytes) / MIB));
    this.script = options.script ?? new URL("./frame-parser-worker.ts", import.meta.url);
  }

  /** Whether a text frame of `bytes` is parsed by a worker. */
  offThread(bytes: number): boolean {
    return bytes >= this.thresholdBytes;
  }

  /** Parses one text frame in a worker. Never rejects: a worker that fails answers `internal`. */
  parse(data: RawData): Promise<ParseOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, code: "internal", message: "the server is shutting down" });
    return new Promise((resolve) => {
      this.waiting.push({ id: ++this.nextJob, bytes: transferable(data), resolve });
      this.dispatch();
    });
  }

  /** Terminates the workers; frames still waiting are answered `internal`. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    const jobs = [...this.waiting.splice(0), ...slots.flatMap((slot) => slot.job ?? [])];
    for (const job of jobs) job.resolve({ ok: false, code: "internal", message: "the server is shutting down" });
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** Workers running now (for tests). */
  get workers(): number {
    return this.slots.length;
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let slot = this.slots.find((candidate) => candidate.job === null);
      if (!slot && this.slots.length < this.size) slot = this.start();
      if (!slot) return;
      const job = this.waiting.shift()!;
      slot.job = job;
      const { buffer } = job.bytes;
      slot.worker.postMessage({ job: job.id, bytes: job.bytes } satisfies ParseRequest, [buffer as ArrayBuffer]);
    }
  }

  private start(): Slot {
    // The script is TypeScript: a worker does not inherit the loader tsx registered in this thread.
    const boot = `import(${JSON.stringify(TSX_API)}).then(({ tsImport }) => tsImport(${JSON.stringify(this.script.href)}, ${JSON.stringify(this.script.href)}))`;
    const worker = new Worker(boot, { eval: true, resourceLimits: { maxOldGenerationSizeMb: this.heapMb } });
    worker.unref();
    const slot: Slot = { worker, job: null };
    worker.on("message", ({ job, parsed }: ParseReply) => {
      if (slot.job?.id !== job) return;
      const { resolve } = slot.job;
      slot.job = null;
      resolve(parsed);
      this.dispatch();
    });
    // An uncaught error, running out of heap (ERR_WORKER_OUT_OF_MEMORY), or an exit: the frame it
    // held is answered `internal` and the worker is replaced by the next frame that needs one.
    const fail = (cause: string) => {
      const index = this.slots.indexOf(slot);
      if (index === -1) return;
      this.slots.splice(index, 1);
      void worker.terminate();
      const job = slot.job;
      slot.job = null;
      job?.resolve({ ok: false, code: "internal", message: `the server could not parse this frame (${cause}); the connection goes on` });
      if (!this.closed) this.dispatch();
    };
    worker.on("error", (error: NodeJS.ErrnoException) => fail(error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "it needs more memory than a frame's parser has" : "its parser failed"));
    worker.on("exit", () => fail("its parser exited"));
    this.slots.push(slot);
    return slot;
  }
}

/**
 * A connection's frames in arrival order: small ones are parsed at once unless a large one is
 * ahead of them; a large one goes to the pool, and the socket is paused until it is answered
 * (and stays paused once `halt` was called).
 * `handle` gets null for a binary frame (not part of the protocol).
 */
export function inOrder(socket: WebSocket, parser: FrameParser, handle: (parsed: ParseOutcome | null, receivedAt: number) => void) {
  const pending: { data: RawData; isBinary: boolean; receivedAt: number }[] = [];
  let parsing = false;
  let halted = false;
  const drain = () => {
    while (!parsing && pending.length > 0) {
      const { data, isBinary, receivedAt } = pending.shift()!;
      if (isBinary) {
        handle(null, receivedAt);
      } else if (!parser.offThread(byteLength(data))) {
        handle(parseClientFrame(data.toString()), receivedAt);
      } else {
        parsing = true;
        // Frames ws has already read still come (a socket read's worth at most) and wait in `pending`.
        socket.pause();
        void parser.parse(data).then((outcome) => {
          parsing = false;
          try {
            handle(outcome, receivedAt);
          } finally {
            drain();
            if (!parsing && !halted) socket.resume();
          }
        });
      }
    }
  };
  return {
    push(data: RawData, isBinary: boolean, receivedAt: number): void {
      pending.push({ data, isBinary, receivedAt });
      drain();
    },
    /** The connection is being closed: its socket stays paused (frames already taken are still handled). */
    halt(): void {
      halted = true;
    },
  };
}

function byteLength(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
}

/** The frame's bytes in a buffer of their own: ws's Buffer when it owns its ArrayBuffer (moved, no copy), a copy otherwise. */
function transferable(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const owns = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  return owns ? new Uint8Array(data.buffer, 0, data.byteLength) : new Uint8Array(data);
}
