// The sessions this server holds, and their records in the shared store: opening (within the
// server's and the tenant's quotas), finding (only by those allowed to see them; a hibernated
// session of any server is woken here), listing, eviction, hibernation, and this pod's heartbeat.
import { randomBytes } from "node:crypto";
import type { ErrorCode, EvictionReason, SessionSummary } from "../../protocol/index.ts";
import { mayAccess, type Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
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
  /** How long an ended session's id answers session_expired. */
  retentionMs: number;
  heartbeatTtlMs: number;
  settings: SessionSettings;
  /** Sandboxes for a session's interpreter; the key (a tenant) shares them fairly when scarce. */
  sandboxes: { sourceFor(key: string): SandboxSource };
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
  private readonly timers: NodeJS.Timeout[];
  private sweeping = false;

  constructor(private readonly options: RegistryOptions) {
    // Sweeping a few times per idle period keeps eviction within a fraction of the timeout.
    const shortest = Math.min(options.idleTimeoutMs, options.maxLifetimeMs, options.hibernateAfterMs || Infinity);
    const sweep = setInterval(() => void this.sweep(), Math.min(5000, Math.max(50, shortest / 4)));
    const heartbeat = setInterval(() => void this.heartbeat(), Math.max(50, options.heartbeatTtlMs / 3));
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
    if (this.live.size >= maxSessions) {
      throw new SessionError("quota_exceeded", `this server holds its maximum of ${maxSessions} sessions (MAX_SESSIONS, in use: ${this.live.size}); close one or retry later`);
    }
    try {
      quotas.openSession(owner);
    } catch (error) {
      if (error instanceof QuotaExceeded) throw new SessionError("quota_exceeded", error.message);
      throw error;
    }
    const id = randomBytes(16).toString("base64url");
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
      memoryBytes: 0,
      snapshotKey: null,
      snapshotBytes: 0,
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

  /** The session with this id, if the caller may access it; anyone else's answers exactly as a missing one. */
  async find(id: string, caller: Identity): Promise<Session> {
    const session = this.live.get(id);
    if (session && mayAccess(caller, session.owner)) return session;
    const ended = this.ended.get(id);
    if (ended && mayAccess(caller, ended.owner)) throw expired(id, ended.reason);
    const record = await this.fromStore(() => this.options.store.get(id));
    if (!record || !mayAccess(caller, record)) throw new SessionError("session_not_found", `there is no session ${id}; open a new session`);
    return this.takeOver(record, caller);
  }

  /** The caller's sessions (a tenant admin: the tenant's), hibernated ones included. */
  async list(caller: Identity): Promise<SessionSummary[]> {
    const records = await this.fromStore(() => this.options.store.listByTenant(caller.tenant));
    return records
      .filter((record) => mayAccess(caller, record) && (record.state === "live" || record.state === "hibernated" || record.state === "starting"))
      .map((record) => this.live.get(record.id)?.summary() ?? summaryOf(record));
  }

  /** Evicts sessions past their idle or lifetime limits, hibernates quiet ones, tells the store. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.options.clock.now();
      for (const session of [...this.live.values()]) await this.sweepOne(session, now);
      for (const [id, ended] of this.ended) {
        if (now - ended.at >= this.options.retentionMs) this.ended.delete(id);
      }
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * At shutdown: live sessions end (clients get `evicted {reason: "shutdown"}`); hibernated ones
   * are let go in the store, for any server to wake.
   */
  async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(
      [...this.live.values()].map(async (session) => {
        if (!session.hibernated) return session.end("shutdown");
        session.release();
        this.live.delete(session.id);
        await this.tellStore(session.id, () => this.options.store.update(session.id, { pod: null, podAddress: null }, { pod: this.options.pod.name }));
      }),
    );
  }

  private async sweepOne(session: Session, now: number): Promise<void> {
    const { idleTimeoutMs, maxLifetimeMs, hibernateAfterMs } = this.options;
    const idleSince = session.idleSince();
    if (now - session.createdAt >= maxLifetimeMs) return session.end("lifetime");
    if (idleSince !== null && now - idleSince >= idleTimeoutMs) return session.end("idle");
    await this.recordActivity(session);
    if (hibernateAfterMs > 0 && idleSince !== null && now - idleSince >= hibernateAfterMs && this.unhibernatable.get(session.id) !== session.lastActiveAt) {
      await this.hibernate(session);
    }
  }

  private async hibernate(session: Session): Promise<void> {
    const { hibernator, store, pod, log, metrics } = this.options;
    const started = this.options.clock.now();
    try {
      const hibernated = await session.hibernate(async (snapshot) => {
        const saved = await hibernator.persist(session.id, snapshot).catch((error: Error) => {
          throw error instanceof SnapshotTooLarge ? error : new SnapshotNotStored(`the snapshot could not be stored: ${error.message}`);
        });
        const previous = this.snapshotKeys.get(session.id);
        this.snapshotKeys.set(session.id, saved.key);
        await this.tellStore(session.id, () => store.update(session.id, { state: "hibernated", snapshotKey: saved.key, snapshotBytes: saved.bytes }, { pod: pod.name }));
        if (previous) await hibernator.delete(previous).catch(() => {});
        log.info("session_hibernated", { session_id: session.id, tenant: session.owner.tenant, stored_bytes: saved.bytes, snapshot_bytes: snapshot.byteLength, duration_ms: this.options.clock.now() - started });
        metrics.hibernated(session.owner.tenant, saved.bytes);
        return this.waking(session.id, session.owner.tenant, saved.load);
      });
      if (hibernated) this.unhibernatable.delete(session.id);
    } catch (error) {
      // It stays live; tried again once it has been used.
      this.unhibernatable.set(session.id, session.lastActiveAt);
      const failure = hibernationFailure(error);
      if (failure) metrics.hibernationFailed(failure);
      log.warn("session_hibernate_failed", { session_id: session.id, tenant: session.owner.tenant, failure, reason: (error as Error).message.slice(0, 300) });
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

  /** A session this server does not hold: wake it if hibernated and free, or say what became of it. */
  private async takeOver(record: SessionRecord, caller: Identity): Promise<Session> {
    const { store, pod } = this.options;
    if (record.state === "evicted") throw expired(record.id, record.endedReason ?? "ended");
    if (record.state === "lost") throw expired(record.id, `lost: ${record.endedReason ?? "its server stopped"}`);
    const ownerAlive = record.pod !== null && record.pod !== pod.name && (await this.fromStore(() => store.isPodAlive(record.pod!)));
    if (ownerAlive) {
      throw new SessionError("busy", `session ${record.id} is held by another server (${record.pod}); connect through the route that reaches it`);
    }
    if (record.state !== "hibernated" || record.snapshotKey === null) {
      // Its server is gone and nothing was saved: the session cannot come back.
      await this.tellStore(record.id, () => store.end(record.id, "lost", `its server ${record.pod ?? ""} stopped`.trim(), this.options.retentionMs, { pod: record.pod }));
      throw expired(record.id, "lost: its server stopped before the session could be saved");
    }
    const claimed = await this.fromStore(() => store.update(record.id, { pod: pod.name, podAddress: pod.address }, { states: ["hibernated"], pod: record.pod }));
    if (!claimed) throw new SessionError("busy", `session ${record.id} is being woken by another server; retry`);
    this.options.quotas.adoptSession(record.tenant);
    this.snapshotKeys.set(record.id, record.snapshotKey);
    // Its quotas are now those of whoever woke it (the opener's token is long gone).
    return this.hold(claimed, this.waking(record.id, record.tenant, this.options.hibernator.loader(record.snapshotKey)), this.options.quotas.limitsFor(caller));
  }

  private hold(record: SessionRecord, hibernated: SnapshotLoader | null, limits: TenantLimits): Session {
    const { quotas, log, settings, clock, metrics } = this.options;
    const { id, tenant, user } = record;
    const owner = { tenant, user };
    const interpreter = new Interpreter(
      this.options.sandboxes.sourceFor(tenant),
      (exit) => log.warn("sandbox_ended", { session_id: id, tenant, cause: exit.cause, detail: exit.detail.slice(0, 300) }),
      hibernated,
    );
    const gate = { start: () => quotas.startCell(tenant, limits), finish: () => quotas.finishCell(tenant) };
    const earlier = { createdAt: record.createdAt, lastActiveAt: record.lastActiveAt, cellCount: record.cellCount };
    const session = new Session(id, owner, {
      interpreter,
      gate,
      llm: this.options.llm.forSession(tenant),
      settings,
      clock,
      log,
      metrics,
      onEnded: (ended, reason) => void this.forget(ended, reason),
      earlier,
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
    quotas.closeSession(session.owner.tenant);
    this.ended.set(session.id, { owner: session.owner, reason, at: clock.now() });
    log.info("session_ended", { session_id: session.id, tenant: session.owner.tenant, reason, cells: session.cellCount, duration_ms: clock.now() - session.createdAt });
    this.options.metrics.sessionEnded(session.owner.tenant, reason);
    await this.tellStore(session.id, () => store.end(session.id, "evicted", reason, retentionMs));
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

/** A hibernation's snapshot was taken but could not be stored. */
class SnapshotNotStored extends Error {}

/** Why a hibernation failed, for metrics; null when it was abandoned (the session was used, or its sandbox ended, meanwhile). */
function hibernationFailure(error: unknown): HibernationFailure | null {
  if (error instanceof SnapshotTooLarge) return "too_large";
  if (error instanceof SnapshotFailed) return "unsnapshottable";
  if (error instanceof SnapshotNotStored) return "store";
  return null;
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
