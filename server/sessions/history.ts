// The events a session has recorded, kept (up to a byte budget) so that a door that lost its
// connection can ask for everything after the last seq it saw.
import { eventBytes, type RecordedEvent } from "./events.ts";

export interface Replay {
  events: RecordedEvent[];
  /** Seqs the caller asked for that are no longer kept: [from, to], or null when none. */
  missing: [number, number] | null;
}

export class SessionHistory {
  /** The seq of the newest event recorded, or 0 before any. */
  lastSeq = 0;
  /** Dropped events' slots are emptied at once (their memory goes), the arrays compacted now and then. */
  private readonly events: (RecordedEvent | undefined)[] = [];
  private readonly sizes: number[] = [];
  private kept = 0;
  private head = 0; // index of the oldest kept event

  constructor(private readonly maxBytes: number) {}

  /** Bytes of the events kept. */
  get bytes(): number {
    return this.kept;
  }

  record(event: RecordedEvent): void {
    const size = eventBytes(event);
    this.events.push(event);
    this.sizes.push(size);
    this.kept += size;
    this.lastSeq = event.seq;
    // The newest event is always kept, however large: it is often the result a client waits for.
    while (this.kept > this.maxBytes && this.head < this.events.length - 1) {
      this.kept -= this.sizes[this.head]!;
      this.events[this.head] = undefined;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Every kept event with a seq above `since`. */
  since(since: number): Replay {
    const kept = this.events.slice(this.head) as RecordedEvent[];
    const oldest = kept[0]?.seq ?? this.lastSeq + 1;
    const missing: [number, number] | null = since + 1 < oldest ? [since + 1, oldest - 1] : null;
    return { events: kept.filter((event) => event.seq > since), missing };
  }
}
