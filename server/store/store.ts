// What every pod shares about sessions: one record per session (who owns it, in what state) and
// each pod's heartbeat; and where interpreter snapshots of hibernated sessions are kept.
// The rules every implementation follows (compare-and-set, which records expire) live here once.

export type SessionState = "live" | "hibernated" | "evicted" | "lost";
export type EndedState = Extract<SessionState, "evicted" | "lost">;

export interface SessionRecord {
  id: string;
  tenant: string;
  user: string;
  /** Owner pod (POD_NAME); null when no pod holds it (hibernated, ended). */
  pod: string | null;
  /** The owner's in-cluster host:port (POD_ADDRESS). */
  podAddress: string | null;
  state: SessionState;
  /** Milliseconds since the epoch. */
  createdAt: number;
  lastActiveAt: number;
  cellCount: number;
  snapshotKey: string | null;
  snapshotBytes: number;
  /**
   * Set while `snapshotKey` names a snapshot: the execution count it holds. Whichever snapshot it
   * is (a checkpoint, CHECKPOINT_AFTER, or the hibernation the session last woke from), a server
   * that finds a live session's owner dead restores the session from it.
   */
  checkpointCount: number | null;
  /** "idle", "lifetime", "closed", ... once evicted or lost. */
  endedReason: string | null;
  endedAt: number | null;
  /**
   * The environment variables it was opened with: every fresh interpreter of the session gets
   * them, on any server (a snapshot carries them too). Set at creation, never changed.
   */
  env: Readonly<Record<string, string>>;
  /** Opened with `rlm_call_text`: its results' rlm_calls carry prompt and response text. Set at creation, never changed. */
  rlmCallText: boolean;
}

/** The fields a change may touch: who a session is, when it began and what it was opened with never change. */
export type RecordChanges = Partial<Omit<SessionRecord, "id" | "tenant" | "user" | "createdAt" | "env" | "rlmCallText">>;

/** What a compare-and-set requires of the stored record; an absent field matches anything. */
export interface Expectation {
  states?: SessionState[];
  pod?: string | null;
}

/** The store cannot be reached now; the message says which one and where (never a password). */
export class StoreUnavailable extends Error {
  override name = "StoreUnavailable";
}

export interface SessionStore {
  /** Creates a record; false when the id exists. */
  create(record: SessionRecord): Promise<boolean>;
  get(id: string): Promise<SessionRecord | null>;
  /** Atomically applies `changes` if the record exists and matches `expect` (compare-and-set); returns the new record or null. */
  update(id: string, changes: RecordChanges, expect?: Expectation): Promise<SessionRecord | null>;
  /** Ends a record (state evicted or lost, reason, endedAt, pod null) and lets it expire after `retentionMs`. */
  end(id: string, state: EndedState, reason: string, retentionMs: number, expect?: Expectation): Promise<SessionRecord | null>;
  /** Records of a tenant (any state still retained), oldest first. */
  listByTenant(tenant: string): Promise<SessionRecord[]>;
  /** Pod liveness: a key with a TTL the pod refreshes. */
  heartbeat(pod: string, address: string, ttlMs: number): Promise<void>;
  isPodAlive(pod: string): Promise<boolean>;
  /**
   * Puts back a record the store lost (a Redis that restarted empty), exactly as given; false when
   * the id exists. `ttlMs` is what remains of an ended record's retention, null for no expiry.
   */
  restore(record: SessionRecord, ttlMs: number | null): Promise<boolean>;
  /** Resolves when the store answers; throws StoreUnavailable when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Interpreter snapshots (compressed bytes) of hibernated sessions. */
export interface SnapshotStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
}

export function isEnded(state: SessionState): state is EndedState {
  return state === "evicted" || state === "lost";
}

export function matches(record: SessionRecord, expect: Expectation = {}): boolean {
  if (expect.states !== undefined && !expect.states.includes(record.state)) return false;
  if (expect.pod !== undefined && record.pod !== expect.pod) return false;
  return true;
}

/** What ending a session changes: it is no longer anyone's. */
export function endingChanges(state: EndedState, reason: string, at: number): RecordChanges {
  return { state, endedReason: reason, endedAt: at, pod: null, podAddress: null };
}

/**
 * Only ended records expire: a change that brings a record back to a running state cancels the
 * expiry an earlier end gave it, so a running session never vanishes.
 */
export function cancelsExpiry(changes: RecordChanges): boolean {
  return changes.state !== undefined && !isEnded(changes.state);
}

/** Every field a change may set, checked complete by the compiler. */
const CHANGEABLE: Record<keyof RecordChanges, true> = {
  pod: true,
  podAddress: true,
  state: true,
  lastActiveAt: true,
  cellCount: true,
  snapshotKey: true,
  snapshotBytes: true,
  checkpointCount: true,
  endedReason: true,
  endedAt: true,
};

/** The changes' defined, changeable fields: anything else a caller's object carries is ignored. */
export function definedChanges(changes: RecordChanges): RecordChanges {
  return Object.fromEntries((Object.keys(CHANGEABLE) as (keyof RecordChanges)[]).filter((field) => changes[field] !== undefined).map((field) => [field, changes[field]]));
}

export function applyChanges(record: SessionRecord, changes: RecordChanges): SessionRecord {
  return { ...record, ...definedChanges(changes) };
}

/** Listing order: oldest first, ties by id, so every store lists alike. */
export function byCreation(a: SessionRecord, b: SessionRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
