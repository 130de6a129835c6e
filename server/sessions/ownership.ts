// Which server holds a session, in a cluster that shares one store: this pod's heartbeat, and
// taking over a session no live server holds (hibernated, or checkpointed by a server that died)
// by compare-and-set on its record, so that two servers never wake the same session.
import type { Clock } from "../clock.ts";
import { SnapshotMissing, type Hibernator } from "../hibernation/hibernator.ts";
import type { Logger } from "../log.ts";
import type { SessionMetrics } from "./session-metrics.ts";
import type { SnapshotLoader } from "../sandbox/interpreter.ts";
import type { SessionRecord, SessionStore } from "../store/store.ts";
import { expired, HeldElsewhere, lost, SessionError } from "./errors.ts";
import type { StorePolicy } from "./store-policy.ts";

export interface PodIdentity {
  name: string;
  /** host:port other pods reach this one at. */
  address: string;
}

/** A session claimed for this server: its record as claimed, and how to wake it. */
export interface Claim {
  record: SessionRecord;
  /** null: it starts fresh (it never ran anything). */
  wake: SnapshotLoader | null;
  /** Set when it comes back from a checkpoint after its server died: its execution count. */
  checkpoint: number | null;
}

export interface OwnershipParts {
  store: SessionStore;
  policy: StorePolicy;
  hibernator: Hibernator;
  pod: PodIdentity;
  /** How long an ended session's id answers session_expired. */
  retentionMs: number;
  heartbeatTtlMs: number;
  clock: Clock;
  log: Logger;
  metrics: SessionMetrics;
  /** A wake found the session's snapshot no longer stored: it can never wake. */
  snapshotGone(id: string, reason: string): void;
}

export class Ownership {
  constructor(private readonly parts: OwnershipParts) {}

  /** Tells the store this pod is alive, for heartbeatTtlMs. */
  heartbeat(): Promise<void> {
    const { store, pod, heartbeatTtlMs, policy } = this.parts;
    return policy.write(null, () => store.heartbeat(pod.name, pod.address, heartbeatTtlMs));
  }

  /**
   * A session this server does not hold: its live owner's (HeldElsewhere, unless the request was
   * already forwarded); a hibernated one, or a checkpointed one whose owner died, claimed by
   * compare-and-set; else what became of it.
   */
  async claim(record: SessionRecord, forwarded: boolean): Promise<Claim> {
    const { store, pod, policy } = this.parts;
    if (record.state === "evicted") throw expired(record.id, record.endedReason ?? "ended");
    if (record.state === "lost") throw lost(record.id, record.endedReason);
    const ownerAlive = record.pod !== null && record.pod !== pod.name && (await policy.read(() => store.isPodAlive(record.pod!)));
    if (ownerAlive) {
      if (!forwarded && record.podAddress) throw new HeldElsewhere(record.pod!, record.podAddress);
      throw new SessionError("busy", `session ${record.id} is moving between servers (${record.pod} holds it now); retry`);
    }
    const checkpoint = record.state === "live" && record.snapshotKey !== null ? record.checkpointCount : null;
    // Hibernated without a snapshot: its server let it go before it ever ran anything.
    const fresh = record.state === "hibernated" && record.snapshotKey === null;
    if (!fresh && ((record.state !== "hibernated" && checkpoint === null) || record.snapshotKey === null)) {
      // Its server is gone and nothing was saved: the session cannot come back.
      const reason = `its server ${record.pod ?? ""} stopped before the session's state could be saved`.replace("  ", " ");
      await policy.write(record.id, () => store.end(record.id, "lost", reason, this.parts.retentionMs, { pod: record.pod }));
      throw lost(record.id, reason);
    }
    const claimed = await policy.read(() =>
      // The snapshot and its execution count stay in the record: should this server die too
      // before it saves a newer one, the next restores the session from it again.
      store.update(record.id, { pod: pod.name, podAddress: pod.address, ...(fresh && { state: "live" as const }) }, { states: [record.state], pod: record.pod }),
    );
    if (!claimed) throw new SessionError("busy", `session ${record.id} is being woken by another server; retry`);
    if (record.snapshotKey === null) return { record: claimed, wake: null, checkpoint: null };
    if (checkpoint !== null) this.parts.log.warn("session_restored_from_checkpoint", { session_id: record.id, tenant: record.tenant, dead_pod: record.pod, execution_count: checkpoint });
    return { record: claimed, wake: this.waking(record.id, record.tenant, this.parts.hibernator.loader(record.snapshotKey)), checkpoint };
  }

  /** A loader that, when the session wakes here, also tells the store it is live again. */
  waking(id: string, tenant: string, load: SnapshotLoader): SnapshotLoader {
    const { store, pod, policy, clock, log, metrics } = this.parts;
    return async () => {
      const started = clock.now();
      const snapshot = await load().catch((error: unknown) => {
        if (error instanceof SnapshotMissing) this.parts.snapshotGone(id, error.message);
        throw error;
      });
      await policy.write(id, () => store.update(id, { state: "live", pod: pod.name, podAddress: pod.address }));
      log.info("session_woken", { session_id: id, tenant, duration_ms: clock.now() - started });
      metrics.woken(tenant);
      return snapshot;
    };
  }
}

