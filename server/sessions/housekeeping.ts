// The life cycle of the sessions a server holds, once they are open: eviction past their idle or
// lifetime limits, hibernation of quiet ones, checkpoints, activity written to the store, and
// the drain that moves every session elsewhere when the server leaves.
import type { Clock } from "../clock.ts";
import { concurrency } from "../concurrency.ts";
import { SnapshotTooLarge, type Hibernator } from "../hibernation/hibernator.ts";
import type { Logger } from "../log.ts";
import type { HibernationFailure, SessionMetrics } from "./session-metrics.ts";
import { SnapshotFailed } from "../sandbox/sandbox.ts";
import type { SessionStore } from "../store/store.ts";
import type { HeldSession } from "./held.ts";
import type { Ownership, PodIdentity } from "./ownership.ts";
import type { StorePolicy } from "./store-policy.ts";

export interface HousekeepingSettings {
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** 0: never hibernate. */
  hibernateAfterMs: number;
  /** 0: never checkpoint. */
  checkpointAfterMs: number;
  /** How long a drain lets running cells finish. */
  drainTimeoutMs: number;
  /**
   * How long work interrupted by a drain may take to end (the sandbox's kill grace and call
   * deadline): a session still busy past it has a hung sandbox, and is lost.
   */
  interruptedWorkMs: number;
}

export interface HousekeepingParts {
  settings: HousekeepingSettings;
  store: SessionStore;
  policy: StorePolicy;
  hibernator: Hibernator;
  ownership: Ownership;
  pod: PodIdentity;
  clock: Clock;
  log: Logger;
  metrics: SessionMetrics;
  /** A session moved elsewhere (drain): the server no longer holds it. */
  released(held: HeldSession): void;
}

export class Housekeeping {
  /** Snapshots taken at once (sweeps and drain alike): each briefly holds a second copy of a sandbox's heap, and the codec takes a core. */
  private readonly snapshotSlots = concurrency(SNAPSHOT_CONCURRENCY);

  constructor(private readonly parts: HousekeepingParts) {}

  /**
   * Evicts sessions past their idle or lifetime limits, hibernates quiet ones, tells the store.
   * Each session on its own: one whose sandbox is slow to answer (until its call deadline kills
   * it) holds up only itself, and is skipped by sweeps until it is done.
   */
  async sweep(held: Iterable<HeldSession>, now: number): Promise<void> {
    await Promise.all(
      [...held].map((one) => {
        if (one.housekeeping) return;
        const work = this.sweepOne(one, now).finally(() => (one.housekeeping = null));
        one.housekeeping = work;
        return work;
      }),
    );
  }

  /**
   * Leaves without losing sessions (SIGTERM), for other servers sharing the store to wake them.
   * Work not yet started is refused with server_draining; running cells get up to DRAIN_TIMEOUT,
   * then are interrupted; every session is hibernated and let go in the store, and its clients
   * are told it moves. A session that cannot be saved ends as lost.
   */
  async drain(held: HeldSession[]): Promise<void> {
    const { drainTimeoutMs, interruptedWorkMs } = this.parts.settings;
    for (const { session } of held) session.drain();
    // Each session leaves as soon as it is idle, so saving overlaps waiting. Every wait here is
    // bounded: by DRAIN_TIMEOUT, then by the interrupted work's own deadlines, then by the
    // snapshot's (a sandbox that misses it is killed, and its session is lost).
    await Promise.all(
      held.map(async (one) => {
        const cellsDone = await within(one.session.idle(), drainTimeoutMs);
        if (!cellsDone) one.session.interruptRunning();
        const stopped = cellsDone || (await within(one.session.idle(), interruptedWorkMs));
        await one.housekeeping; // a sweep's hibernation or checkpoint under way
        await this.snapshotSlots(() => this.leave(one, stopped ? null : `its work did not stop within ${interruptedWorkMs} ms of its interrupt`));
      }),
    );
  }

  /**
   * Hibernates a session if it is live, and lets go of it; ends it as lost if it cannot be saved
   * (or `unsaveable` says why it cannot be).
   */
  private async leave(held: HeldSession, unsaveable: string | null): Promise<void> {
    const { store, pod, log, policy } = this.parts;
    const { session } = held;
    if (session.endedBy !== null) return; // closed by its client meanwhile
    // An empty session moves as a record alone (hibernated, no snapshot): it wakes fresh.
    const fresh = session.empty ? { state: "hibernated" as const, snapshotKey: null } : {};
    if (!session.hibernated && !session.empty) {
      const failure = unsaveable ?? (await this.hibernate(held));
      if (failure !== null) {
        held.losing = "its server shut down and could not save it";
        log.warn("session_lost_at_drain", { session_id: session.id, tenant: session.owner.tenant, reason: failure });
        return session.end("shutdown");
      }
    }
    // Free in the store before the clients hear of it, so that their reconnect finds it free.
    await policy.write(session.id, () => store.update(session.id, { pod: null, podAddress: null, ...fresh }, { pod: pod.name }));
    session.release();
    this.parts.released(held);
  }

  private async sweepOne(held: HeldSession, now: number): Promise<void> {
    const { idleTimeoutMs, maxLifetimeMs, hibernateAfterMs, checkpointAfterMs } = this.parts.settings;
    const { session } = held;
    const idleSince = session.idleSince();
    if (now - session.createdAt >= maxLifetimeMs) return session.end("lifetime");
    if (idleSince !== null && now - idleSince >= idleTimeoutMs) return session.end("idle");
    await this.recordActivity(held);
    if (idleSince === null || session.endedBy !== null) return;
    if (hibernateAfterMs > 0 && now - idleSince >= hibernateAfterMs && held.hibernateFailedAt !== session.lastActiveAt) {
      await this.snapshotSlots(() => this.hibernate(held));
    } else if (checkpointAfterMs > 0 && now - idleSince >= checkpointAfterMs && held.checkpointedAt !== session.lastActiveAt) {
      await this.snapshotSlots(() => this.checkpoint(held));
    }
  }

  private async recordActivity(held: HeldSession): Promise<void> {
    const { session, written } = held;
    const now = { lastActiveAt: session.lastActiveAt, cellCount: session.cellCount };
    if (written.lastActiveAt === now.lastActiveAt && written.cellCount === now.cellCount) return;
    held.written = now;
    const record = await this.parts.policy.write(session.id, () => this.parts.store.update(session.id, now, { pod: this.parts.pod.name }));
    if (record === null && (await this.takenOver(held))) await this.handOver(held);
  }

  /**
   * Whether another server took the session over (its record no longer names this one), as it
   * does when this one stops answering for a heartbeat's TTL (a stalled process): a write
   * expecting this server failed. Not when the record is gone (a store that lost it) or unreadable.
   */
  private async takenOver(held: HeldSession): Promise<boolean> {
    const record = await this.parts.store.get(held.session.id).catch(() => undefined);
    return record !== undefined && record !== null && record.pod !== this.parts.pod.name;
  }

  /** Lets go of a session another server now holds; the snapshot this one kept is that server's to keep or delete. */
  private async handOver(held: HeldSession): Promise<void> {
    const { session } = held;
    this.parts.log.warn("session_taken_over", { session_id: session.id, tenant: session.owner.tenant, reason: "another server holds it now: this one had stopped answering" });
    held.snapshotKey = null;
    this.parts.released(held);
    await session.handOver();
  }

  /**
   * Stores a snapshot of a live session that keeps running, so that it survives its server's
   * death (CHECKPOINT_AFTER); the record says which execution count it holds.
   */
  private async checkpoint(held: HeldSession): Promise<void> {
    const { hibernator, store, pod, log, policy } = this.parts;
    const { session } = held;
    const activity = session.lastActiveAt;
    try {
      const snapshot = await session.checkpoint();
      if (!snapshot) return;
      const saved = await hibernator.persist(session.id, snapshot);
      const changes = { snapshotKey: saved.key, snapshotBytes: saved.bytes, checkpointCount: session.executionCount };
      const record = await policy.write(session.id, () => store.update(session.id, changes, { pod: pod.name, states: ["live"] }));
      if (record === null) {
        // The store kept the record as it was: the snapshot it names must stay, only this one goes.
        await this.deleteSnapshot(saved.key);
        if (await this.takenOver(held)) await this.handOver(held);
        return;
      }
      await this.deleteSnapshot(this.replaceSnapshot(held, saved.key));
      log.info("session_checkpointed", { session_id: session.id, tenant: session.owner.tenant, execution_count: session.executionCount, stored_bytes: saved.bytes });
    } catch (error) {
      log.warn("session_checkpoint_failed", { session_id: session.id, tenant: session.owner.tenant, reason: (error as Error).message.slice(0, 300) });
    } finally {
      held.checkpointedAt = activity;
    }
  }

  /** Hibernates a session; null when it worked, else why not (it then stays live). */
  private async hibernate(held: HeldSession): Promise<string | null> {
    const { hibernator, store, pod, log, metrics, policy, ownership } = this.parts;
    const { session } = held;
    const started = this.parts.clock.now();
    /** The store was told it hibernated: if the interpreter then stays live after all, it must hear otherwise. */
    let recorded = false;
    try {
      const hibernated = await session.hibernate(async (snapshot) => {
        const saved = await hibernator.persist(session.id, snapshot).catch((error: Error) => {
          throw error instanceof SnapshotTooLarge ? error : new SnapshotNotStored(`the snapshot could not be stored: ${error.message}`);
        });
        const changes = { state: "hibernated" as const, snapshotKey: saved.key, snapshotBytes: saved.bytes, checkpointCount: session.executionCount };
        const record = await policy.write(session.id, () => store.update(session.id, changes, { pod: pod.name }));
        if (record === null && (await this.takenOver(held))) {
          await this.deleteSnapshot(saved.key);
          throw new TakenOver();
        }
        recorded = true;
        await this.deleteSnapshot(this.replaceSnapshot(held, saved.key));
        log.info("session_hibernated", { session_id: session.id, tenant: session.owner.tenant, stored_bytes: saved.bytes, snapshot_bytes: snapshot.byteLength, duration_ms: this.parts.clock.now() - started });
        metrics.hibernated(session.owner.tenant, saved.bytes);
        return ownership.waking(session.id, session.owner.tenant, saved.load);
      });
      if (hibernated) held.hibernateFailedAt = null;
      return hibernated ? null : "it had work";
    } catch (error) {
      if (error instanceof TakenOver) {
        await this.handOver(held);
        return "another server holds it now";
      }
      // Used while it was being saved, it stays live: its record says so again, and the snapshot
      // just stored stays as its checkpoint (its record names it, with its execution count).
      if (recorded) await policy.write(session.id, () => store.update(session.id, { state: "live" }, { pod: pod.name }));
      // It stays live; tried again once it has been used.
      held.hibernateFailedAt = session.lastActiveAt;
      const failure = hibernationFailure(error);
      if (failure) metrics.hibernationFailed(failure);
      const reason = (error as Error).message.slice(0, 300);
      log.warn("session_hibernate_failed", { session_id: session.id, tenant: session.owner.tenant, failure, reason });
      return reason;
    }
  }

  /** Makes `key` the session's snapshot; returns the key it replaces, to delete once the store no longer names it. */
  private replaceSnapshot(held: HeldSession, key: string): string | null {
    const previous = held.snapshotKey;
    held.snapshotKey = key;
    return previous;
  }

  private async deleteSnapshot(key: string | null): Promise<void> {
    if (key) await this.parts.hibernator.delete(key).catch(() => {});
  }
}

const SNAPSHOT_CONCURRENCY = 2;

/** Whether `promise` settled within `ms` (it goes on either way). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A hibernation's snapshot was taken but could not be stored. */
class SnapshotNotStored extends Error {}

/** A hibernation found that another server had taken the session over meanwhile. */
class TakenOver extends Error {}

/** Why a hibernation failed, for metrics; null when it was abandoned (the session was used, or its sandbox ended, meanwhile). */
function hibernationFailure(error: unknown): HibernationFailure | null {
  if (error instanceof SnapshotTooLarge) return "too_large";
  if (error instanceof SnapshotFailed) return "unsnapshottable";
  if (error instanceof SnapshotNotStored) return "store";
  return null;
}
