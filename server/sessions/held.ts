// What this server keeps about one session it holds: the session itself, and the bookkeeping its
// housekeeping and the store need. One record per session, dropped whole when the session goes.
import type { Session } from "./session.ts";

export interface HeldSession {
  session: Session;
  /** What the store last heard of its activity, so that an unchanged session costs no write. */
  written: { lastActiveAt: number; cellCount: number };
  /** The stored snapshot (hibernation or checkpoint) it would wake from, deleted when replaced or ended. */
  snapshotKey: string | null;
  /** The activity time a hibernation failed at: not retried until the session is used again. */
  hibernateFailedAt: number | null;
  /** The activity time of its last checkpoint: not taken again until the session is used. */
  checkpointedAt: number | null;
  /** Ending because its state cannot be kept (a drain could not save it, its snapshot is gone): why, recorded as lost, not evicted. */
  losing: string | null;
  /** Its housekeeping in progress: its next sweep waits for none but its own. */
  housekeeping: Promise<void> | null;
}

export function heldSession(session: Session, written: HeldSession["written"], snapshotKey: string | null): HeldSession {
  return { session, written, snapshotKey, hibernateFailedAt: null, checkpointedAt: null, losing: null, housekeeping: null };
}
