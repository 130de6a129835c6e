// The sessions this server holds, and their records in the shared store: opening (within the
// server's and the tenant's quotas), finding (only by those allowed to see them; a hibernated
// session of any server is woken here), listing, eviction, hibernation, and this pod's heartbeat.
import { randomBytes } from "node:crypto";
import type { ErrorCode, EvictionReason, SessionSummary } from "../../protocol/index.ts";
import { mayAccess, type Identity } from "../auth/identity.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import { concurrency } from "../concurrency.ts";
import type { TenantLimits } from "../config.ts";
import { SnapshotTooLarge, type Hibernator } from "../hibernation/hibernator.ts";
import type { LlmService } from "../llm/service.ts";
import type { Logger } from "../log.ts";
import type { HibernationFailure, Metrics } from "../metrics.ts";
import { Interpreter, type SandboxSource, type SnapshotLoader } from "../sandbox/interpreter.ts";
import { SnapshotFailed } from "../sandbox/sandbox.ts";
import { StoreUnavailable, type SessionRecord, type SessionStore } from "../store/store.ts";
import { QuotaExceeded, type TenantQuotas } from "../tenancy/quotas.ts";
import { Session, type SessionSettings } from "./session.ts";

export interface PodIdentity {
  name: string;
  /** host:port other pods reach this one at. */
  address: string;
}

export interface RegistryOptions {
  maxSessions: number;
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
  /**
   * Whether other servers share the store: then a draining server hibernates its sessions for
   * them to wake; alone (the in-memory store), its sessions end with it.
   */
  sharedStore: boolean;
  /** How long an ended session's id answers session_expired. */
  retentionMs: number;
  heartbeatTtlMs: number;
  settings: SessionSettings;
  /** Interpreters for a session, in its owner's processes (see SandboxRuntime.sourceFor). */
  sandboxes: { sourceFor(owner: Pick<Identity, "tenant" | "user">): SandboxSource };
  /** Each session's way to the model (llm_query). */
  llm: LlmService;
  quotas: TenantQuotas;
  store: SessionStore;
  hibernator: Hibernator;
  pod: PodIdentity;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

export class SessionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The session is live on another server that is alive: the request belongs there (see Forwarder). */
export class HeldElsewhere extends Error {
  constructor(
    readonly pod: string,
    readonly address: string,
  ) {
    super(`the session is held by ${pod} at ${address}`);
  }
}

interface Ended {
  owner: Pick<Identity, "tenant" | "user">;
  reason: EvictionReason;
  at: number;
}

/** What the store last heard of a local session, so unchanged sessions cost no write. */
interface Written {
  lastActiveAt: number;
  cellCount: number;
}

export class SessionRegistry {
  private readonly live = new Map<string, Session>();
  private readonly ended = new Map<string, Ended>();
  private readonly written = new Map<string, Written>();
  /** Sessions whose hibernation failed, with the activity time it failed at: not retried until they are used again. */
  private readonly unhibernatable = new Map<string, number>();
  private readonly snapshotKeys = new Map<string, string>();
  /** Sessions checkpointed, with the activity time of the checkpoint: not taken again until they are used. */
  private readonly checkpointed = new Map<string, number>();
  /** Sessions ending because a drain could not save them: recorded as lost, not evicted. */
  private readonly losing = new Set<string>();
  private readonly timers: NodeJS.Timeout[];
  /** Each session's housekeeping in progress: a session's next sweep waits for none but its own. */
  private readonly housekeeping = new Map<string, Promise<void>>();
  /** Snapshots taken at once (sweeps and drain alike): each briefly holds a second copy of a sandbox's heap, and the codec takes a core. */
  private readonly snapshotSlots = concurrency(SNAPSHOT_CONCURRENCY);
  /** Shutting down: no session is opened or woken here any more. */
  private draining = false;

  constructor(private readonly options: RegistryOptions) {
    // Sweeping a few times per idle period keeps eviction within a fraction of the timeout.
    const shortest = Math.min(options.idleTimeoutMs, options.maxLifetimeMs, options.hibernateAfterMs || Infinity, options.checkpointAfterMs || Infinity);
    const sweep = setInterval(guard(options, "timer", () => this.sweep()), Math.min(5000, Math.max(50, shortest / 4)));
    const heartbeat = setInterval(guard(options, "timer", () => this.heartbeat()), Math.max(50, options.heartbeatTtlMs / 3));
    this.timers = [sweep, heartbeat];
    for (const timer of this.timers) timer.unref();
    void this.heartbeat();
    options.metrics.observeSessions(() => [...this.live.values()].map((session) => ({ tenant: session.owner.tenant, hibernated: session.hibernated })));
  }

  get size(): number {
    return this.live.size;
  }

  async open(owner: Identity): Promise<Session> {
    const { maxSessions, quotas, store, pod, clock } = this.options;
    if (this.draining) throw drainingError();
    if (this.live.size >= maxSessions) {
      throw new SessionError("quota_exceeded", `this server holds its maximum of ${maxSessions} sessions (MAX_SESSIONS, in use: ${this.live.size}); close one or retry later`);
    }
    try {
      quotas.openSession(owner);
    } catch (error) {
      if (error instanceof QuotaExceeded) throw new SessionError("quota_exceeded", error.message);
      throw error;
    }
    // Hex: an id never starts with "-", which command lines would take for an option.
    const id = randomBytes(16).toString("hex");
    const now = clock.now();
    const record: SessionRecord = {
      id,
      tenant: owner.tenant,
      user: owner.user,
      pod: pod.name,
      podAddress: pod.address,
      state: "live",
      createdAt: now,
      lastActiveAt: now,
      cellCount: 0,
      snapshotKey: null,
      snapshotBytes: 0,
      checkpointCount: null,
      endedReason: null,
      endedAt: null,
    };
    try {
      await this.fromStore(() => store.create(record));
    } catch (error) {
      quotas.closeSession(owner.tenant);
      throw error;
    }
    this.options.log.info("session_opened", { session_id: id, tenant: owner.tenant, user: owner.user });
    this.options.metrics.sessionOpened(owner.tenant);
    return this.hold(record, null, quotas.limitsFor(owner));
  }

  /**
   * The session with this id, if the caller may access it; anyone else's answers exactly as a
   * missing one. Throws HeldElsewhere when another live server holds it, unless the request was
   * already forwarded (`forwarded`): pods never forward in a loop.
   */
  async find(id: string, caller: Identity, forwarded = false): Promise<Session> {
    const session = this.live.get(id);
    if (session && mayAccess(caller, session.owner)) return session;
    const ended = this.ended.get(id);
    if (ended && mayAccess(caller, ended.owner)) throw expired(id, ended.reason);
    if (this.draining) throw drainingError();
    const record = await this.fromStore(() => this.options.store.get(id));
    if (!record || !mayAccess(caller, record)) throw new SessionError("session_not_found", `there is no session ${id}; open a new session`);
    return this.takeOver(record, caller, forwarded);
  }

  /** The caller's sessions (a tenant admin: the tenant's), hibernated ones included. */
  async list(caller: Identity): Promise<SessionSummary[]> {
    const records = await this.fromStore(() => this.options.store.listByTenant(caller.tenant));
    return records
      .filter((record) => mayAccess(caller, record) && (record.state === "live" || record.state === "hibernated"))
      .map((record) => this.live.get(record.id)?.summary() ?? summaryOf(record));
  }

  /**
   * Evicts sessions past their idle or lifetime limits, hibernates quiet ones, tells the store.
   * Each session on its own: one whose sandbox is slow to answer (until its call deadline kills
   * it) holds up only itself, and is skipped by sweeps until it is done.
   */
  async sweep(): Promise<void> {
    const now = this.options.clock.now();
    for (const [id, ended] of this.ended) {
      if (now - ended.at >= this.options.retentionMs) this.ended.delete(id);
    }
    await Promise.all(
      [...this.live.values()].map((session) => {
        if (this.housekeeping.has(session.id)) return;
        const work = this.sweepOne(session, now).finally(() => this.housekeeping.delete(session.id));
        this.housekeeping.set(session.id, work);
        return work;
      }),
    );
  }

  /**
   * Leaves without losing sessions (SIGTERM). Work not yet started is refused with
   * server_draining; running cells get up to DRAIN_TIMEOUT, then are interrupted; every session
   * is hibernated and let go in the store for another server to wake, and its clients are told
   * `evicted {reason: "shutdown", resumable: true}`. A session that cannot be saved ends as lost.
   * Alone (the in-memory store), sessions simply end with `evicted {reason: "shutdown"}`.
   */
  async shutdown(): Promise<void> {
    this.draining = true;
    for (const timer of this.timers) clearInterval(timer);
    const sessions = [...this.live.values()];
    if (!this.options.sharedStore) {
      await Promise.all(sessions.map((session) => session.end("shutdown")));
      return;
    }
    for (const session of sessions) session.drain();
    // Each session leaves as soon as it is idle, so saving overlaps waiting. Every wait here is
    // bounded: by DRAIN_TIMEOUT, then by the interrupted work's own deadlines, then by the
    // snapshot's (a sandbox that misses it is killed, and its session is lost).
    await Promise.all(
      sessions.map(async (session) => {
        const cellsDone = await within(session.idle(), this.options.drainTimeoutMs);
        if (!cellsDone) session.interruptRunning();
        const stopped = cellsDone || (await within(session.idle(), this.options.interruptedWorkMs));
        await this.housekeeping.get(session.id); // a sweep's hibernation or checkpoint under way
        await this.snapshotSlots(() => this.leave(session, stopped ? null : `its work did not stop within ${this.options.interruptedWorkMs} ms of its interrupt`));
      }),
    );
  }

  /**
   * Hibernates a session if it is live, and lets go of it; ends it as lost if it cannot be saved
   * (or `unsaveable` says why it cannot be).
   */
  private async leave(session: Session, unsaveable: string | null): Promise<void> {
    const { store, pod, log } = this.options;
    if (session.endedBy !== null) return; // closed by its client meanwhile
    // An empty session moves as a record alone (hibernated, no snapshot): it wakes fresh.
    const fresh = session.empty ? { state: "hibernated" as const, snapshotKey: null } : {};
    if (!session.hibernated && !session.empty) {
      const failure = unsaveable ?? (await this.hibernate(session));
      if (failure !== null) {
        this.losing.add(session.id);
        log.warn("session_lost_at_drain", { session_id: session.id, tenant: session.owner.tenant, reason: failure });
        return session.end("shutdown");
      }
    }
    // Free in the store before the clients hear of it, so that their reconnect finds it free.
    await this.tellStore(session.id, () => store.update(session.id, { pod: null, podAddress: null, checkpointCount: null, ...fresh }, { pod: pod.name }));
    session.release();
    this.live.delete(session.id);
  }

  private async sweepOne(session: Session, now: number): Promise<void> {
    const { idleTimeoutMs, maxLifetimeMs, hibernateAfterMs } = this.options;
    const idleSince = session.idleSince();
    if (now - session.createdAt >= maxLifetimeMs) return session.end("lifetime");
    if (idleSince !== null && now - idleSince >= idleTimeoutMs) return session.end("idle");
    await this.recordActivity(session);
    if (hibernateAfterMs > 0 && idleSince !== null && now - idleSince >= hibernateAfterMs && this.unhibernatable.get(session.id) !== session.lastActiveAt) {
      await this.snapshotSlots(() => this.hibernate(session));
    } else if (this.options.checkpointAfterMs > 0 && idleSince !== null && now - idleSince >= this.options.checkpointAfterMs && this.checkpointed.get(session.id) !== session.lastActiveAt) {
      await this.snapshotSlots(() => this.checkpoint(session));
    }
  }

  /**
   * Stores a snapshot of a live session that keeps running, so that it survives its server's
   * death (CHECKPOINT_AFTER); the record says which execution count it holds.
   */
  private async checkpoint(session: Session): Promise<void> {
    const { hibernator, store, pod, log } = this.options;
    const activity = session.lastActiveAt;
    try {
      const snapshot = await session.checkpoint();
      if (!snapshot) return;
      const saved = await hibernator.persist(session.id, snapshot);
      const previous = this.snapshotKeys.get(session.id);
      this.snapshotKeys.set(session.id, saved.key);
      const changes = { snapshotKey: saved.key, snapshotBytes: saved.bytes, checkpointCount: session.executionCount };
      await this.tellStore(session.id, () => store.update(session.id, changes, { pod: pod.name, states: ["live"] }));
      if (previous) await hibernator.delete(previous).catch(() => {});
      log.info("session_checkpointed", { session_id: session.id, tenant: session.owner.tenant, execution_count: session.executionCount, stored_bytes: saved.bytes });
    } catch (error) {
      log.warn("session_checkpoint_failed", { session_id: session.id, tenant: session.owner.tenant, reason: (error as Error).message.slice(0, 300) });
    } finally {
      this.checkpointed.set(session.id, activity);
    }
  }

  /** Hibernates a session; null when it worked, else why not (it then stays live). */
  private async hibernate(session: Session): Promise<string | null> {
    const { hibernator, store, pod, log, metrics } = this.options;
    const started = this.options.clock.now();
    try {
      const hibernated = await session.hibernate(async (snapshot) => {
        const saved = await hibernator.persist(session.id, snapshot).catch((error: Error) => {
          throw error instanceof SnapshotTooLarge ? error : new SnapshotNotStored(`the snapshot could not be stored: ${error.message}`);
        });
        const previous = this.snapshotKeys.get(session.id);
        this.snapshotKeys.set(session.id, saved.key);
        await this.tellStore(session.id, () => store.update(session.id, { state: "hibernated", snapshotKey: saved.key, snapshotBytes: saved.bytes, checkpointCount: null }, { pod: pod.name }));
        if (previous) await hibernator.delete(previous).catch(() => {});
        log.info("session_hibernated", { session_id: session.id, tenant: session.owner.tenant, stored_bytes: saved.bytes, snapshot_bytes: snapshot.byteLength, duration_ms: this.options.clock.now() - started });
        metrics.hibernated(session.owner.tenant, saved.bytes);
        return this.waking(session.id, session.owner.tenant, saved.load);
      });
      if (hibernated) this.unhibernatable.delete(session.id);
      return hibernated ? null : "it had work";
    } catch (error) {
      // It stays live; tried again once it has been used.
      this.unhibernatable.set(session.id, session.lastActiveAt);
      const failure = hibernationFailure(error);
      if (failure) metrics.hibernationFailed(failure);
      const reason = (error as Error).message.slice(0, 300);
      log.warn("session_hibernate_failed", { session_id: session.id, tenant: session.owner.tenant, failure, reason });
      return reason;
    }
  }

  /** A loader that, when the session wakes here, also tells the store it is live again. */
  private waking(id: string, tenant: string, load: SnapshotLoader): SnapshotLoader {
    return async () => {
      const started = this.options.clock.now();
      const snapshot = await load();
      await this.tellStore(id, () => this.options.store.update(id, { state: "live", pod: this.options.pod.name, podAddress: this.options.pod.address }));
      this.options.log.info("session_woken", { session_id: id, tenant, duration_ms: this.options.clock.now() - started });
      this.options.metrics.woken(tenant);
      return snapshot;
    };
  }

  /**
   * A session this server does not hold: its live owner's (HeldElsewhere); a hibernated one, or
   * a checkpointed one whose owner died, claimed by compare-and-set and woken here; else what
   * became of it.
   */
  private async takeOver(record: SessionRecord, caller: Identity, forwarded: boolean): Promise<Session> {
    const { store, pod } = this.options;
    if (record.state === "evicted") throw expired(record.id, record.endedReason ?? "ended");
    if (record.state === "lost") throw lost(record.id, record.endedReason);
    const ownerAlive = record.pod !== null && record.pod !== pod.name && (await this.fromStore(() => store.isPodAlive(record.pod!)));
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
      await this.tellStore(record.id, () => store.end(record.id, "lost", reason, this.options.retentionMs, { pod: record.pod }));
      throw lost(record.id, reason);
    }
    const claimed = await this.fromStore(() =>
      store.update(record.id, { pod: pod.name, podAddress: pod.address, checkpointCount: null, ...(fresh && { state: "live" as const }) }, { states: [record.state], pod: record.pod }),
    );
    if (!claimed) throw new SessionError("busy", `session ${record.id} is being woken by another server; retry`);
    this.options.quotas.adoptSession(record.tenant);
    if (record.snapshotKey === null) return this.hold(claimed, null, this.options.quotas.limitsFor(caller));
    this.snapshotKeys.set(record.id, record.snapshotKey);
    if (checkpoint !== null) this.options.log.warn("session_restored_from_checkpoint", { session_id: record.id, tenant: record.tenant, dead_pod: record.pod, execution_count: checkpoint });
    // Its quotas are now those of whoever woke it (the opener's token is long gone).
    const loader = this.waking(record.id, record.tenant, this.options.hibernator.loader(record.snapshotKey));
    return this.hold(claimed, loader, this.options.quotas.limitsFor(caller), checkpoint);
  }

  private hold(record: SessionRecord, hibernated: SnapshotLoader | null, limits: TenantLimits, restoredFromCheckpoint: number | null = null): Session {
    const { quotas, log, settings, clock, metrics } = this.options;
    const { id, tenant, user } = record;
    const owner = { tenant, user };
    const interpreter = new Interpreter(
      this.options.sandboxes.sourceFor(owner),
      (exit) => log.warn("sandbox_ended", { session_id: id, tenant, cause: exit.cause, detail: exit.detail.slice(0, 300) }),
      hibernated,
    );
    const gate = { start: () => quotas.startCell(tenant, limits), finish: () => quotas.finishCell(tenant) };
    const earlier = { createdAt: record.createdAt, lastActiveAt: record.lastActiveAt, cellCount: record.cellCount };
    const session = new Session(id, owner, {
      interpreter,
      gate,
      llm: this.options.llm.forSession(owner),
      settings,
      clock,
      log,
      metrics,
      onEnded: (ended, reason) => void this.forget(ended, reason),
      earlier,
      restoredFromCheckpoint,
    });
    this.live.set(id, session);
    this.written.set(id, { lastActiveAt: record.lastActiveAt, cellCount: record.cellCount });
    return session;
  }

  private async recordActivity(session: Session): Promise<void> {
    const before = this.written.get(session.id);
    const now = { lastActiveAt: session.lastActiveAt, cellCount: session.cellCount };
    if (before && before.lastActiveAt === now.lastActiveAt && before.cellCount === now.cellCount) return;
    this.written.set(session.id, now);
    await this.tellStore(session.id, () => this.options.store.update(session.id, now, { pod: this.options.pod.name }));
  }

  private async forget(session: Session, reason: EvictionReason): Promise<void> {
    const { quotas, store, hibernator, clock, log, retentionMs } = this.options;
    this.live.delete(session.id);
    this.written.delete(session.id);
    this.unhibernatable.delete(session.id);
    this.checkpointed.delete(session.id);
    quotas.closeSession(session.owner.tenant);
    this.ended.set(session.id, { owner: session.owner, reason, at: clock.now() });
    log.info("session_ended", { session_id: session.id, tenant: session.owner.tenant, reason, cells: session.cellCount, duration_ms: clock.now() - session.createdAt });
    this.options.metrics.sessionEnded(session.owner.tenant, reason);
    const wasLost = this.losing.delete(session.id);
    await this.tellStore(session.id, () =>
      wasLost ? store.end(session.id, "lost", "its server shut down and could not save it", retentionMs) : store.end(session.id, "evicted", reason, retentionMs),
    );
    const key = this.snapshotKeys.get(session.id);
    this.snapshotKeys.delete(session.id);
    if (key) await hibernator.delete(key).catch((error: Error) => log.warn("snapshot_delete_failed", { session_id: session.id, reason: error.message }));
  }

  private async heartbeat(): Promise<void> {
    const { store, pod, heartbeatTtlMs } = this.options;
    await this.tellStore(null, () => store.heartbeat(pod.name, pod.address, heartbeatTtlMs));
  }

  /** A read the caller needs: an unreachable store is the caller's store_unavailable. */
  private async fromStore<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof StoreUnavailable) {
        this.options.metrics.storeError("read");
        throw new SessionError("store_unavailable", `${error.message}; retry shortly`);
      }
      throw error;
    }
  }

  /** A write nobody waits on: the store queues it through an outage; anything else is logged. */
  private async tellStore(id: string | null, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.log.warn("store_write_failed", { session_id: id, reason: (error as Error).message });
      this.options.metrics.storeError("write");
    }
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

/** Why a hibernation failed, for metrics; null when it was abandoned (the session was used, or its sandbox ended, meanwhile). */
function hibernationFailure(error: unknown): HibernationFailure | null {
  if (error instanceof SnapshotTooLarge) return "too_large";
  if (error instanceof SnapshotFailed) return "unsnapshottable";
  if (error instanceof SnapshotNotStored) return "store";
  return null;
}

function drainingError(): SessionError {
  return new SessionError("server_draining", "this server is shutting down; retry through another (its sessions move there)");
}

function lost(id: string, reason: string | null): SessionError {
  return new SessionError("session_lost", `session ${id} was lost: ${reason ?? "its server stopped"}; its state could not be recovered, open a new session`);
}

function expired(id: string, reason: string): SessionError {
  return new SessionError("session_expired", `session ${id} ended (${reason}); open a new session`);
}

function summaryOf(record: SessionRecord): SessionSummary {
  return {
    session_id: record.id,
    tenant: record.tenant,
    user: record.user,
    created_at: new Date(record.createdAt).toISOString(),
    last_active_at: new Date(record.lastActiveAt).toISOString(),
    cell_count: record.cellCount,
    running: false,
    attached_clients: 0,
  };
}
