// Blocking calls from Python to the host (llm_query and friends). Python runs synchronously on
// the worker, whose event loop is blocked for the whole cell, so the answer cannot come as a
// message: the sandbox's main thread writes it into shared memory and the worker waits on it.
//
// The first word says which call the worker waits for (n > 0) or that call n was answered (-n).
// Writing -n only by compare-and-swap from n means a late answer to a call the worker gave up
// on (an interrupt) can never be taken for the answer to a later call.

const HEADER_BYTES = 8; // [state word, answer length]
const INITIAL_BYTES = 64 * 1024;
/** Answers beyond this are refused (replaced by an error) rather than grown into. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export function createCallBuffer(): SharedArrayBuffer {
  // deno-lint-ignore no-explicit-any
  const Growable = SharedArrayBuffer as any;
  return new Growable(HEADER_BYTES + INITIAL_BYTES, { maxByteLength: HEADER_BYTES + MAX_ANSWER_BYTES });
}

/** The main thread's half: delivers answers the host sent. */
export class CallAnswerer {
  private readonly words: Int32Array;
  private readonly encoder = new TextEncoder();

  constructor(private readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, 2);
  }

  /** Writes the answer to `call` if the worker still waits for it; false otherwise. */
  answer(call: number, text: string): boolean {
    let bytes = this.encoder.encode(text);
    if (bytes.byteLength > MAX_ANSWER_BYTES) bytes = this.encoder.encode(JSON.stringify({ error: `the answer is over ${MAX_ANSWER_BYTES} bytes` }));
    return this.answerBytes(call, bytes);
  }

  /** A binary answer (at most MAX_ANSWER_BYTES), as `answer`. */
  answerBytes(call: number, bytes: Uint8Array): boolean {
    if (Atomics.load(this.words, 0) !== call || bytes.byteLength > MAX_ANSWER_BYTES) return false;
    // deno-lint-ignore no-explicit-any
    const buffer = this.buffer as any;
    if (buffer.byteLength < HEADER_BYTES + bytes.byteLength) buffer.grow(HEADER_BYTES + bytes.byteLength);
    new Uint8Array(this.buffer, HEADER_BYTES, bytes.byteLength).set(bytes);
    Atomics.store(this.words, 1, bytes.byteLength);
    const answered = Atomics.compareExchange(this.words, 0, call, -call) === call;
    Atomics.notify(this.words, 0);
    return answered;
  }

  /** Wakes a waiting worker so it notices an interrupt. */
  wake(): void {
    Atomics.notify(this.words, 0);
  }
}

/** The worker's half: announces a call and blocks until its answer, or an interrupt, arrives. */
export class CallWaiter {
  private readonly words: Int32Array;
  private readonly decoder = new TextDecoder();
  private lastCall = 0;

  constructor(
    private readonly buffer: SharedArrayBuffer,
    private readonly interruptWord: Int32Array,
  ) {
    this.words = new Int32Array(buffer, 0, 2);
  }

  /**
   * Sends a request with `send(call)` and returns the answer's text. When the interrupt word is
   * set, `onInterrupt` runs (it raises KeyboardInterrupt into Python); the call is abandoned.
   */
  call(send: (call: number) => void, onInterrupt: () => void): string {
    // A copy: TextDecoder does not read shared memory.
    return this.decoder.decode(this.callBytes(send, onInterrupt));
  }

  /** As `call`, for a binary answer: a copy of its bytes. */
  callBytes(send: (call: number) => void, onInterrupt: () => void): Uint8Array {
    const call = (this.lastCall = (this.lastCall % 0x7fffffff) + 1);
    Atomics.store(this.words, 0, call);
    send(call);
    for (;;) {
      if (Atomics.load(this.words, 0) === -call) break;
      if (Atomics.load(this.interruptWord, 0) !== 0) {
        Atomics.store(this.words, 0, 0);
        onInterrupt();
        // Not raised (Python caught it or unset the buffer): keep waiting; the host's deadline ends it.
        Atomics.store(this.words, 0, call);
      }
      Atomics.wait(this.words, 0, call, 1000);
    }
    const length = Atomics.load(this.words, 1);
    const bytes = new Uint8Array(this.buffer, HEADER_BYTES, length).slice();
    Atomics.store(this.words, 0, 0);
    return bytes;
  }
}
