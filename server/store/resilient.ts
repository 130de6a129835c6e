// Keeps a server working while its session store (Redis) cannot be reached: live sessions go on
// executing, opening one fails fast, state changes wait and are reconciled when the store returns,
// and no record this server wrote is lost. Store-agnostic: it wraps any SessionStore and learns of
// an outage from StoreUnavailable.
//
// While the store is unavailable, and until everything queued meanwhile is reconciled:
// - Reads (get, listings, liveness) and create/restore throw StoreUnavailable at once: an answer
//   from before the outage could be stale, and a new session must not start unrecorded.
// - update/end/heartbeat are queued in memory, per session in order (unconditional updates in a
//   row merge into one); nothing is dropped for being late. An update or end is answered from the
//   last record this server wrote, with the change applied (a "projection"); its compare-and-set
//   is checked against that record, and a mismatch answers null without queueing anything.
// - Reconciliation retries on a timer with a capped backoff, so it works for any store.
//
// The consistency limits, by design:
// - A queued compare-and-set is checked again when replayed. If the stored record no longer
//   matches (another pod took the session meanwhile), the write is dropped and logged
//   (`store_write_dropped`): the caller was answered from the projection, and the store wins.
// - A write that failed by timing out may have been applied; its replay then finds the change
//   done: an unconditional update just sets the same fields again, a compare-and-set is dropped.
// - A queued end's endedAt (and its retention) counts from when it is replayed.
// - A record this server never wrote cannot be projected, so changing it throws StoreUnavailable.
// - If the store lost records (a Redis restarted empty), this server puts back the last version
//   of each record it wrote (kept `rememberMs`, or an ended record's retention). Each server
//   remembers only its own writes; if two remember different versions of a record, the first to
//   reconcile wins, and the other learns it when its next compare-and-set fails. Loss is only
//   looked for after an outage this server noticed.
// - Writes still queued when the process exits are lost (close() makes one last attempt).
import { EventEmitter } from "node:events";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import {
  applyChanges,
  definedChanges,
  endingChanges,
  isEnded,
  matches,
  StoreUnavailable,
  type EndedState,
  type Expectation,
  type RecordChanges,
  type SessionRecord,
  type SessionStore,
} from "./store.ts";

export interface QueueingStoreOptions {
  clock: Clock;
  log: Logger;
  /** How long a running record this server wrote is kept, to put it back should the store lose it. */
  rememberMs: number;
  /** The first and the longest wait between two attempts to reconcile. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** What one outage took to reconcile; the `reconciled` event carries it. */
export interface ReconcileSummary {
  /** Queued writes (changes and heartbeats) the store accepted. */
  replayed: number;
  /** Queued writes dropped: their expectation no longer held, or the store refused them. */
  dropped: number;
  /** Records put back because the store had lost them. */
  restored: number;
  /** From the first failure until reconciled. */
  outageMs: number;
}

export interface QueueingStoreEvents {
  /** The store stopped answering (once per outage). */
  unavailable: [error: StoreUnavailable];
  /** Every queued write is replayed or dropped, and reads go to the store again. */
  reconciled: [summary: ReconcileSummary];
}

type QueuedWrite =
  | { kind: "update"; changes: RecordChanges; expect: Expectation | undefined }
  | { kind: "end"; state: EndedState; reason: string; retentionMs: number; expect: Expectation | undefined };

interface Remembered {
  record: SessionRecord;
  /** When the store expires the record (an ended one); null when it does not. */
  expiresAt: number | null;
  forgetAt: number;
}

interface Outage {
  since: number;
  /** The latest failure: what reads are refused with. */
  error: StoreUnavailable;
  counts: Omit<ReconcileSummary, "outageMs">;
}

/** Records checked at once when looking for lost ones. */
const RESTORE_BATCH = 64;

export class QueueingStore extends EventEmitter<QueueingStoreEvents> implements SessionStore {
  private outage: Outage | null = null;
  /** Queued changes per session id, oldest first; a write being replayed is out of its list. */
  private readonly writes = new Map<string, QueuedWrite[]>();
  /** The latest heartbeat per pod: only the newest matters. */
  private readonly heartbeats = new Map<string, { address: string; ttlMs: number }>();
  /** The last record this server wrote per id, in order of writing (oldest first). */
  private readonly remembered = new Map<string, Remembered>();
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private retryDelayMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private reconciling: Promise<boolean> | null = null;
  private closed = false;

  constructor(
    private readonly inner: SessionStore,
    private readonly options: QueueingStoreOptions,
  ) {
    super();
    this.retryMinMs = options.retryMinMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.retryDelayMs = this.retryMinMs;
  }

  /** False from a failure to reach the store until everything queued meanwhile is reconciled. */
  get available(): boolean {
    return this.outage === null;
  }

  /** Writes waiting for the store. */
  get pendingWrites(): number {
    let count = this.heartbeats.size;
    for (const queued of this.writes.values()) count += queued.length;
    return count;
  }

  async create(record: SessionRecord): Promise<boolean> {
    const created = await this.direct((store) => store.create(record));
    if (created) this.remember(record, null);
    return created;
  }

  async restore(record: SessionRecord, ttlMs: number | null): Promise<boolean> {
    const restored = await this.direct((store) => store.restore(record, ttlMs));
    if (restored) this.remember(record, ttlMs === null ? null : this.options.clock.now() + ttlMs);
    return restored;
  }

  get(id: string): Promise<SessionRecord | null> {
    return this.direct((store) => store.get(id));
  }

  listByTenant(tenant: string): Promise<SessionRecord[]> {
    return this.direct((store) => store.listByTenant(tenant));
  }

  isPodAlive(pod: string): Promise<boolean> {
    return this.direct((store) => store.isPodAlive(pod));
  }

  ping(): Promise<void> {
    return this.direct((store) => store.ping());
  }

  update(id: string, changes: RecordChanges, expect?: Expectation): Promise<SessionRecord | null> {
    // A copy of the defined fields: the caller may reuse its object while the write waits.
    return this.write(id, { kind: "update", changes: definedChanges(changes), expect });
  }

  end(id: string, state: EndedState, reason: string, retentionMs: number, expect?: Expectation): Promise<SessionRecord | null> {
    return this.write(id, { kind: "end", state, reason, retentionMs, expect });
  }

  async heartbeat(pod: string, address: string, ttlMs: number): Promise<void> {
    if (!this.outage) {
      try {
        return await this.inner.heartbeat(pod, address, ttlMs);
      } catch (error) {
        if (!(error instanceof StoreUnavailable)) throw error;
        this.lose(error);
      }
    }
    this.heartbeats.set(pod, { address, ttlMs });
  }

  /** Stops retrying after one last attempt to save what is queued, then closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.reconciling;
    if (!(await this.reconcile()) && this.pendingWrites > 0) {
      this.options.log.warn("store_writes_unsaved", { writes: this.pendingWrites, error: this.outage?.error.message });
    }
    await this.inner.close();
  }

  /** A call that cannot wait for the store: refused at once during an outage. */
  private async direct<T>(operation: (store: SessionStore) => Promise<T>): Promise<T> {
    if (this.outage) throw new StoreUnavailable(this.outage.error.message);
    try {
      return await operation(this.inner);
    } catch (error) {
      if (error instanceof StoreUnavailable) this.lose(error);
      throw error;
    }
  }

  private async write(id: string, write: QueuedWrite): Promise<SessionRecord | null> {
    if (!this.outage) {
      try {
        const record = await this.send(id, write);
        if (record) this.remember(record, this.expiresAfter(id, write, record));
        // The record changed under us (or ended): this server no longer has its latest version.
        else this.remembered.delete(id);
        return record;
      } catch (error) {
        if (!(error instanceof StoreUnavailable)) throw error;
        this.lose(error);
      }
    }
    return this.enqueue(id, write);
  }

  private send(id: string, write: QueuedWrite): Promise<SessionRecord | null> {
    return write.kind === "update"
      ? this.inner.update(id, write.changes, write.expect)
      : this.inner.end(id, write.state, write.reason, write.retentionMs, write.expect);
  }

  /** Queues a write and answers as the store would, judging by the last record this server wrote. */
  private enqueue(id: string, write: QueuedWrite): SessionRecord | null {
    const known = this.remembered.get(id);
    if (!known) {
      throw new StoreUnavailable(`${this.outage?.error.message}; session ${id} was not written by this server, so a change to it cannot wait for the store`);
    }
    if (!matches(known.record, write.expect)) return null;
    const changes = write.kind === "update" ? write.changes : endingChanges(write.state, write.reason, this.options.clock.now());
    const projected = applyChanges(known.record, changes);
    this.remember(projected, this.expiresAfter(id, write, projected));
    const queued = this.writes.get(id);
    const last = queued?.at(-1);
    if (!queued) this.writes.set(id, [write]);
    // Unconditional updates in a row are one update in which the later fields win.
    else if (last?.kind === "update" && !last.expect && write.kind === "update" && !write.expect) last.changes = { ...last.changes, ...write.changes };
    else queued.push(write);
    return { ...projected };
  }

  /** When the store will expire the record after this write, as the stores do: end sets it, a return to a running state clears it. */
  private expiresAfter(id: string, write: QueuedWrite, record: SessionRecord): number | null {
    const now = this.options.clock.now();
    if (write.kind === "end") return now + write.retentionMs;
    if (!isEnded(record.state)) return null;
    return this.remembered.get(id)?.expiresAt ?? now + this.options.rememberMs;
  }

  private remember(record: SessionRecord, expiresAt: number | null): void {
    const now = this.options.clock.now();
    // Re-inserted at the end, so the map stays in order of writing and the oldest are forgotten first.
    this.remembered.delete(record.id);
    this.remembered.set(record.id, { record: { ...record }, expiresAt, forgetAt: expiresAt ?? now + this.options.rememberMs });
    for (const [id, entry] of this.remembered) {
      if (entry.forgetAt > now) break;
      if (!this.writes.has(id)) this.remembered.delete(id);
    }
  }

  private lose(error: StoreUnavailable): void {
    if (this.outage) {
      this.outage.error = error;
      return;
    }
    this.outage = { since: this.options.clock.now(), error, counts: { replayed: 0, dropped: 0, restored: 0 } };
    this.options.log.warn("store_unavailable", { error: error.message });
    this.announce("unavailable", error);
    this.scheduleReconcile();
  }

  private scheduleReconcile(): void {
    if (this.closed || this.retryTimer) return;
    // Not unref'd: queued writes are worth keeping the process alive for, until close().
    this.retryTimer = setTimeout(guard(this.options, "timer", () => this.attemptReconcile()), this.retryDelayMs);
  }

  private async attemptReconcile(): Promise<void> {
    this.retryTimer = null;
    this.reconciling = this.reconcile();
    const reconciled = await this.reconciling;
    this.reconciling = null;
    this.retryDelayMs = reconciled ? this.retryMinMs : Math.min(this.retryDelayMs * 2, this.retryMaxMs);
    if (!reconciled) this.scheduleReconcile();
  }

  /** One attempt to bring the store up to date; true when it is and the outage is over. Never throws. */
  private async reconcile(): Promise<boolean> {
    const outage = this.outage;
    if (!outage) return true;
    try {
      await this.inner.ping();
      await this.restoreLost(outage);
      // Writes keep arriving (and queueing) while this runs: done only when none is left.
      while (this.pendingWrites > 0) {
        await this.replayHeartbeats(outage);
        await this.replayWrites(outage);
      }
    } catch (error) {
      if (error instanceof StoreUnavailable) outage.error = error;
      else this.options.log.error("store_reconcile_failed", { error: (error as Error).message });
      return false;
    }
    this.outage = null;
    const summary: ReconcileSummary = { ...outage.counts, outageMs: this.options.clock.now() - outage.since };
    this.options.log.info("store_reconciled", { ...summary });
    this.announce("reconciled", summary);
    return true;
  }

  private async replayHeartbeats(outage: Outage): Promise<void> {
    for (const [pod, beat] of this.heartbeats) {
      await this.inner.heartbeat(pod, beat.address, beat.ttlMs);
      // A newer heartbeat may have replaced this one meanwhile: that one still has to go.
      if (this.heartbeats.get(pod) === beat) this.heartbeats.delete(pod);
      outage.counts.replayed++;
    }
  }

  private async replayWrites(outage: Outage): Promise<void> {
    for (const [id, queued] of this.writes) {
      while (queued.length > 0) {
        const write = queued.shift()!;
        try {
          await this.replay(id, write, queued, outage);
        } catch (error) {
          if (error instanceof StoreUnavailable) {
            queued.unshift(write);
            throw error;
          }
          // The store refuses this write for good (not for being away): retrying would block every other.
          outage.counts.dropped++;
          this.options.log.error("store_write_failed", { session_id: id, write: write.kind, error: (error as Error).message });
        }
      }
      this.writes.delete(id);
    }
  }

  /** Replays one queued write; `later` holds the writes queued after it for the same session. */
  private async replay(id: string, write: QueuedWrite, later: QueuedWrite[], outage: Outage): Promise<void> {
    const record = await this.send(id, write);
    if (record) {
      outage.counts.replayed++;
      // Until the last write lands, the remembered record is the projection that includes the later ones.
      if (later.length === 0) this.remember(record, this.expiresAfter(id, write, record));
      return;
    }
    if ((await this.inner.get(id)) === null) {
      // The store lost the record: put back the projection, which holds this write and every later one.
      const known = this.remembered.get(id);
      if (known) await this.putBack(known, outage);
      later.length = 0;
      return;
    }
    outage.counts.dropped++;
    this.remembered.delete(id);
    this.options.log.warn("store_write_dropped", {
      session_id: id,
      write: write.kind,
      expect: write.expect ?? null,
      reason: "the stored record no longer matches what this change expected when it was queued",
    });
  }

  /** Puts back the records this server wrote that the store no longer has; those with queued writes are left to their replay. */
  private async restoreLost(outage: Outage): Promise<void> {
    const entries = [...this.remembered.values()].filter((entry) => !this.writes.has(entry.record.id));
    for (let start = 0; start < entries.length; start += RESTORE_BATCH) {
      await Promise.all(
        entries.slice(start, start + RESTORE_BATCH).map(async (entry) => {
          if ((await this.inner.get(entry.record.id)) === null) await this.putBack(entry, outage);
        }),
      );
    }
  }

  private async putBack(entry: Remembered, outage: Outage): Promise<void> {
    const ttlMs = entry.expiresAt === null ? null : entry.expiresAt - this.options.clock.now();
    // An ended record past its retention would be gone by now anyway.
    if (ttlMs !== null && ttlMs <= 0) return;
    if (await this.inner.restore(entry.record, ttlMs)) {
      outage.counts.restored++;
      this.options.log.info("store_record_restored", { session_id: entry.record.id, state: entry.record.state });
    }
  }

  /** Emits an event; a listener that throws is logged, never thrown into a store call or the reconciler. */
  private announce<E extends keyof QueueingStoreEvents>(event: E, ...args: QueueingStoreEvents[E]): void {
    try {
      (this.emit as (event: E, ...args: QueueingStoreEvents[E]) => boolean)(event, ...args);
    } catch (error) {
      this.options.log.error("store_listener_failed", { event, error: (error as Error).message });
    }
  }
}
