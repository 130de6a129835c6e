// The store of a single server (no REDIS_URL): the same contract as Redis, held in this process.
// Expiry (retention, heartbeats) is read from the injected clock on access, so tests can move time.
import type { Clock } from "../clock.ts";
import {
  applyChanges,
  byCreation,
  cancelsExpiry,
  endingChanges,
  matches,
  type EndedState,
  type Expectation,
  type RecordChanges,
  type SessionRecord,
  type SessionStore,
  type SnapshotStore,
} from "./store.ts";

interface Stored {
  record: SessionRecord;
  /** Ms since the epoch; null for records that do not expire. */
  expiresAt: number | null;
}

export class MemoryStore implements SessionStore {
  private readonly records = new Map<string, Stored>();
  /** Each pod's heartbeat expiry, ms since the epoch. */
  private readonly heartbeats = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  async create(record: SessionRecord): Promise<boolean> {
    return this.insert(record, null);
  }

  async restore(record: SessionRecord, ttlMs: number | null): Promise<boolean> {
    return this.insert(record, ttlMs === null ? null : this.clock.now() + ttlMs);
  }

  async get(id: string): Promise<SessionRecord | null> {
    const stored = this.retained(id);
    return stored ? { ...stored.record } : null;
  }

  async update(id: string, changes: RecordChanges, expect?: Expectation): Promise<SessionRecord | null> {
    return this.change(id, changes, expect, (stored) => (cancelsExpiry(changes) ? null : stored.expiresAt));
  }

  async end(id: string, state: EndedState, reason: string, retentionMs: number, expect?: Expectation): Promise<SessionRecord | null> {
    const now = this.clock.now();
    return this.change(id, endingChanges(state, reason, now), expect, () => now + retentionMs);
  }

  async listByTenant(tenant: string): Promise<SessionRecord[]> {
    return this.list((record) => record.tenant === tenant);
  }

  // The address only labels the heartbeat for someone reading Redis; in memory nothing reads it.
  async heartbeat(pod: string, _address: string, ttlMs: number): Promise<void> {
    this.heartbeats.set(pod, this.clock.now() + ttlMs);
  }

  async isPodAlive(pod: string): Promise<boolean> {
    const expiresAt = this.heartbeats.get(pod);
    return expiresAt !== undefined && expiresAt > this.clock.now();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private insert(record: SessionRecord, expiresAt: number | null): boolean {
    if (this.retained(record.id)) return false;
    this.records.set(record.id, { record: { ...record }, expiresAt });
    return true;
  }

  private change(id: string, changes: RecordChanges, expect: Expectation | undefined, expiry: (stored: Stored) => number | null): SessionRecord | null {
    const stored = this.retained(id);
    if (!stored || !matches(stored.record, expect)) return null;
    const record = applyChanges(stored.record, changes);
    this.records.set(id, { record, expiresAt: expiry(stored) });
    return { ...record };
  }

  private list(wanted: (record: SessionRecord) => boolean): SessionRecord[] {
    const found: SessionRecord[] = [];
    for (const id of [...this.records.keys()]) {
      const stored = this.retained(id);
      if (stored && wanted(stored.record)) found.push({ ...stored.record });
    }
    return found.sort(byCreation);
  }

  /** The record, unless its retention has passed (then it is forgotten now). */
  private retained(id: string): Stored | null {
    const stored = this.records.get(id);
    if (!stored) return null;
    if (stored.expiresAt !== null && stored.expiresAt <= this.clock.now()) {
      this.records.delete(id);
      return null;
    }
    return stored;
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  private readonly snapshots = new Map<string, Uint8Array>();

  // Copies in and out: the caller may reuse its buffer, and must not change what is stored.
  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.snapshots.set(key, bytes.slice());
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.snapshots.get(key)?.slice() ?? null;
  }

  async delete(key: string): Promise<void> {
    this.snapshots.delete(key);
  }
}
