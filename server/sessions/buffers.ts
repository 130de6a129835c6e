// The bytes clients make the server hold, counted against a budget per session and one for the
// whole server: uploads in progress, queued work, frames written but not yet sent, the replay
// buffer. Each owner reserves before it holds and releases once the bytes are gone (sent, run,
// dropped, its connection closed), so the counts are what memory holds, not an estimate after
// the fact. New input that does not fit is refused naming the limit; output that does not fit
// cuts the connection furthest behind (it reconnects with `since` and loses nothing).
import type { ErrorCode } from "../../protocol/index.ts";

export const BUFFER_KINDS = ["upload", "queued", "unsent", "replay"] as const;
export type BufferKind = (typeof BUFFER_KINDS)[number];

export interface BufferLimits {
  /** SESSION_BUFFER_MB, in bytes. */
  sessionBytes: number;
  /** SERVER_BUFFER_MB, in bytes. */
  serverBytes: number;
}

/** Why bytes were not admitted: `too_large` when they could never fit, `busy` when others hold the room. */
export interface Refusal {
  code: Extract<ErrorCode, "busy" | "too_large">;
  message: string;
}

type Counts = Record<BufferKind, number>;
const zero = (): Counts => ({ upload: 0, queued: 0, unsent: 0, replay: 0 });
const MIB = 1024 * 1024;

/** The server's budget: the sum over its sessions, by kind. */
export class BufferBudget {
  private readonly counts = zero();
  private total = 0;

  constructor(readonly limits: BufferLimits) {}

  /** A budget for one more session; give it back with SessionBuffers.clear when the session ends. */
  session(): SessionBuffers {
    return new SessionBuffers(this);
  }

  /** Bytes held now, by kind (the wasm_repl_buffered_bytes gauge). */
  usage(): Readonly<Counts> {
    return this.counts;
  }

  /** Whether `bytes` more fit the server's budget. */
  fits(bytes: number): boolean {
    return this.total + bytes <= this.limits.serverBytes;
  }

  /** @internal SessionBuffers reports every change here. */
  adjust(kind: BufferKind, delta: number): void {
    this.counts[kind] += delta;
    this.total += delta;
  }
}

/** One session's share: refuses what does not fit, and cuts the connections furthest behind. */
export class SessionBuffers {
  private readonly counts = zero();
  private total = 0;
  private readonly outboxes = new Set<Outbox>();

  constructor(private readonly server: BufferBudget) {}

  get used(): number {
    return this.total;
  }

  /** Reserves `bytes` of input (an upload's chunk, queued work); null when they fit, else why not. */
  reserve(kind: "upload" | "queued", bytes: number, what: string): Refusal | null {
    const { sessionBytes, serverBytes } = this.server.limits;
    if (bytes > sessionBytes) {
      return { code: "too_large", message: `${what} is ${bytes} bytes, over the session's buffer budget of ${sessionBytes / MIB} MiB (SESSION_BUFFER_MB); send less at once` };
    }
    if (this.total + bytes > sessionBytes) {
      return { code: "busy", message: `${what} does not fit the session's buffer budget of ${sessionBytes / MIB} MiB (SESSION_BUFFER_MB, ${this.total} bytes in use by uploads, queued work and unsent frames); wait for queued work to run or for clients to catch up` };
    }
    if (!this.server.fits(bytes)) {
      return { code: "busy", message: `${what} does not fit the server's buffer budget of ${serverBytes / MIB} MiB (SERVER_BUFFER_MB), which other sessions use now; retry shortly` };
    }
    this.change(kind, bytes);
    return null;
  }

  release(kind: BufferKind, bytes: number): void {
    this.change(kind, -bytes);
  }

  /** @internal Outbox.admit, after makeRoom: output is counted, never refused. */
  hold(kind: "unsent", bytes: number): void {
    this.change(kind, bytes);
  }

  /** For a holder that knows its own size (the replay buffer): counts `bytes` for `kind`, refusing nothing. */
  set(kind: "replay", bytes: number): void {
    this.change(kind, bytes - this.counts[kind]);
  }

  /** A connection's frames on their way out; `cut` must drop the connection and call Outbox.close. */
  outbox(cut: (unsentBytes: number) => void): Outbox {
    const outbox = new Outbox(this, cut);
    this.outboxes.add(outbox);
    return outbox;
  }

  /** The session ended: everything it held is gone. */
  clear(): void {
    for (const outbox of this.outboxes) outbox.close();
    for (const kind of BUFFER_KINDS) this.change(kind, -this.counts[kind]);
  }

  /** @internal Outbox.admit: cuts connections behind, the furthest first, until `bytes` fit. */
  makeRoom(bytes: number, self: Outbox): boolean {
    while (this.total + bytes > this.server.limits.sessionBytes || !this.server.fits(bytes)) {
      let slowest: Outbox | null = null;
      for (const outbox of this.outboxes) if (outbox.pending > 0 && outbox.pending > (slowest?.pending ?? 0)) slowest = outbox;
      // Nobody is behind: the budget is taken by input or by this frame alone. A client that
      // keeps up always gets its frames, so output never stalls; input is refused meanwhile.
      if (!slowest) return true;
      slowest.cutOff();
      if (slowest === self) return false;
    }
    return true;
  }

  /** @internal */
  forget(outbox: Outbox): void {
    this.outboxes.delete(outbox);
  }

  private change(kind: BufferKind, delta: number): void {
    if (delta === 0) return;
    this.counts[kind] += delta;
    this.total += delta;
    this.server.adjust(kind, delta);
  }
}

/** The bytes one connection has been given to send and has not sent yet. */
export class Outbox {
  pending = 0;
  private closed = false;

  constructor(
    private readonly buffers: SessionBuffers,
    private readonly cut: (unsentBytes: number) => void,
  ) {}

  /** Whether a frame of `bytes` may be written; false when this connection was cut instead. */
  admit(bytes: number): boolean {
    if (this.closed || !this.buffers.makeRoom(bytes, this)) return false;
    this.pending += bytes;
    this.buffers.hold("unsent", bytes);
    return true;
  }

  /** `bytes` of an admitted frame left the process (or were dropped with the connection). */
  sent(bytes: number): void {
    if (this.closed) return;
    this.pending -= bytes;
    this.buffers.release("unsent", bytes);
  }

  /** The connection is gone, and with it whatever it had not sent. */
  close(): void {
    if (this.closed) return;
    this.buffers.release("unsent", this.pending);
    this.pending = 0;
    this.closed = true;
    this.buffers.forget(this);
  }

  /** @internal SessionBuffers.makeRoom */
  cutOff(): void {
    const unsent = this.pending;
    this.close();
    this.cut(unsent);
  }
}
