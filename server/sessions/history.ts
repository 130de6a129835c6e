// The frames a session has published, kept (up to a byte budget) so that a client that lost its
// connection can ask for everything after the last seq it saw.

export interface Replay {
  frames: string[];
  /** Seqs the caller asked for that are no longer kept: [from, to], or null when none. */
  missing: [number, number] | null;
}

export class SessionHistory {
  /** The seq of the newest frame recorded, or 0 before any. */
  lastSeq = 0;
  private readonly seqs: number[] = [];
  private readonly frames: string[] = [];
  private kept = 0;
  private head = 0; // index of the oldest kept frame; the arrays are compacted now and then

  constructor(private readonly maxBytes: number) {}

  /** Characters of the frames kept. */
  get bytes(): number {
    return this.kept;
  }

  record(seq: number, frame: string): void {
    this.seqs.push(seq);
    this.frames.push(frame);
    this.kept += frame.length;
    this.lastSeq = seq;
    // The newest frame is always kept, however large: it is often the result a client waits for.
    while (this.kept > this.maxBytes && this.head < this.frames.length - 1) {
      this.kept -= this.frames[this.head]!.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.seqs.splice(0, this.head);
      this.frames.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Every kept frame with a seq above `since`. */
  since(since: number): Replay {
    const oldest = this.head < this.seqs.length ? this.seqs[this.head]! : this.lastSeq + 1;
    const missing: [number, number] | null = since + 1 < oldest ? [since + 1, oldest - 1] : null;
    let index = this.head;
    while (index < this.seqs.length && this.seqs[index]! <= since) index++;
    return { frames: this.frames.slice(index), missing };
  }
}
