// The sessions this server holds, and the way to them: opening (within the server's and the
// tenant's quotas), finding (only by those allowed to see them; a session no live server holds
// is taken over and woken here, ownership.ts), listing, and ending. What happens to a session
// once it is open is housekeeping.ts's.
import { randomBytes } from "node:crypto";
import type { EvictionReason, SessionSummary } from "../../protocol/index.ts";
import { mayAccess, type Identity } from "../auth/identity.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import type { TenantLimits } from "../auth/identity.ts";
import type { Hibernator } from "../hibernation/hibernator.ts";
import type { LlmService } from "../llm/service.ts";
import type { Logger } from "../log.ts";
import type { SessionMetrics } from "./session-metrics.ts";
import { Interpreter, type SandboxSource, type SnapshotLoader } from "../sandbox/interpreter.ts";
import type { SessionRecord, SessionStore } from "../store/store.ts";
import { QuotaExceeded, type TenantQuotas } from "../tenancy/quotas.ts";
import { environmentProblem, type Environment } from "./environment.ts";
import { drainingError, expired, lost, SessionError } from "./errors.ts";
import { heldSession, type HeldSession } from "./held.ts";
import { Housekeeping, type HousekeepingSettings } from "./housekeeping.ts";
import { Ownership, type PodIdentity } from "./ownership.ts";
import { Session, type SessionSettings } from "./session.ts";
import { StorePolicy } from "./store-policy.ts";

export interface RegistryOptions extends HousekeepingSettings {
  maxSessions: number;
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
  metrics: SessionMetrics;
}

/** How a session is opened, besides by whom. */
export interface OpenOptions {
  /** Its interpreter's os.environ additions (checked here: see environment.ts). */
  env?: Environment;
  /** Its results' rlm_calls carry each call's prompt and response text. */
  rlmCallText?: boolean;
}

/** A session that ended here, remembered for a while so that its id answers session_expired. */
interface Ended {
  owner: Pick<Identity, "tenant" | "user">;
  reason: EvictionReason;
  at: number;
}

export class SessionRegistry {
  private readonly held = new Map<string, HeldSession>();
  private readonly ended = new Map<string, Ended>();
  private readonly policy: StorePolicy;
  private readonly ownership: Ownership;
  private readonly housekeeping: Housekeeping;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly heartbeatTimer: NodeJS.Timeout;
  /** Shutting down: no session is opened or woken here any more. */
  private draining = false;

  constructor(private readonly options: RegistryOptions) {
    const { store, hibernator, pod, clock, log, metrics } = options;
    this.policy = new StorePolicy(options);
    this.ownership = new Ownership({
      store,
      policy: this.policy,
      hibernator,
      pod,
      retentionMs: options.retentionMs,
      heartbeatTtlMs: options.heartbeatTtlMs,
      clock,
      log,
      metrics,
      snapshotGone: (id, reason) => this.snapshotGone(id, reason),
    });
    this.housekeeping = new Housekeeping({
      settings: options,
      store,
      policy: this.policy,
      hibernator,
      ownership: this.ownership,
      pod,
      clock,
      log,
      metrics,
      released: (held) => {
        this.held.delete(held.session.id);
        this.options.quotas.closeSession(held.session.owner.tenant);
      },
    });
    // Sweeping a few times per idle period keeps eviction within a fraction of the timeout.
    const shortest = Math.min(options.idleTimeoutMs, options.maxLifetimeMs, options.hibernateAfterMs || Infinity, options.checkpointAfterMs || Infinity);
    const sweep = setInterval(guard(options, "timer", () => this.sweep()), Math.min(5000, Math.max(50, shortest / 4)));
    const heartbeat = setInterval(guard(options, "timer", () => this.ownership.heartbeat()), Math.max(50, options.heartbeatTtlMs / 3));
    this.sweepTimer = sweep;
    this.heartbeatTimer = heartbeat;
    for (const timer of [sweep, heartbeat]) timer.unref();
    void this.ownership.heartbeat();
    metrics.observeSessions(() => [...this.held.values()].map(({ session }) => ({ tenant: session.owner.tenant, hibernated: session.hibernated })));
  }

  get size(): number {
    return this.held.size;
  }

  async open(owner: Identity, { env = {}, rlmCallText = false }: OpenOptions = {}): Promise<Session> {
    const { maxSessions, quotas, store, pod, clock } = this.options;
    const problem = environmentProblem(env);
    if (problem) throw new SessionError("bad_request", problem);
    if (this.draining) throw drainingError();
    if (this.held.size >= maxSessions) {
      throw new SessionError("quota_exceeded", `this server holds its maximum of ${maxSessions} sessions (MAX_SESSIONS, in use: ${this.held.size}); close one or retry later`);
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
      env: { ...env },
      rlmCallText,
    };
    try {
      await this.policy.read(() => store.create(record));
    } catch (error) {
      quotas.closeSession(owner.tenant);
      throw error;
    }
    this.options.log.info("session_opened", { session_id: id, tenant: owner.tenant, user: owner.user });
    this.options.metrics.sessionOpened(owner.tenant);
    return this.hold(record, quotas.limitsFor(owner));
  }

  /**
   * The session with this id, if the caller may access it; anyone else's answers exactly as a
   * missing one. Throws HeldElsewhere when another live server holds it, unless the request was
   * already forwarded (`forwarded`): pods never forward in a loop.
   */
  async find(id: string, caller: Identity, forwarded = false): Promise<Session> {
    const session = this.held.get(id)?.session;
    if (session && mayAccess(caller, session.owner)) return session;
    const ended = this.ended.get(id);
    if (ended && mayAccess(caller, ended.owner)) throw ended.reason === "lost" ? lost(id, "its saved state is no longer stored") : expired(id, ended.reason);
    if (this.draining) throw drainingError();
    const record = await this.policy.read(() => this.options.store.get(id));
    if (!record || !mayAccess(caller, record)) throw new SessionError("session_not_found", `there is no session ${id}; open a new session`);
    const claim = await this.ownership.claim(record, forwarded);
    this.options.quotas.adoptSession(record.tenant);
    // Its quotas are now those of whoever woke it (the opener's token is long gone).
    return this.hold(claim.record, this.options.quotas.limitsFor(caller), claim.wake, claim.checkpoint);
  }

  /** The caller's sessions (a tenant admin: the tenant's), hibernated ones included. */
  async list(caller: Identity): Promise<SessionSummary[]> {
    const records = await this.policy.read(() => this.options.store.listByTenant(caller.tenant));
    return records
      .filter((record) => mayAccess(caller, record) && (record.state === "live" || record.state === "hibernated"))
      .map((record) => this.held.get(record.id)?.session.summary() ?? summaryOf(record));
  }

  /** Housekeeping now (the timer does it regularly): see Housekeeping.sweep. */
  async sweep(): Promise<void> {
    const now = this.options.clock.now();
    for (const [id, ended] of this.ended) {
      if (now - ended.at >= this.options.retentionMs) this.ended.delete(id);
    }
    await this.housekeeping.sweep(this.held.values(), now);
  }

  /**
   * Leaves (SIGTERM): with a shared store every session moves to the servers that remain (see
   * Housekeeping.drain); alone (the in-memory store), sessions simply end with
   * `evicted {reason: "shutdown"}`.
   */
  async shutdown(): Promise<void> {
    this.draining = true;
    clearInterval(this.sweepTimer);
    // The heartbeat goes on until every session is let go of: a server that fell silent while it
    // drains would be taken for dead, and others would take over (from their last checkpoints)
    // sessions it still holds and runs, losing what they did since.
    try {
      const held = [...this.held.values()];
      if (!this.options.sharedStore) await Promise.all(held.map(({ session }) => session.end("shutdown")));
      else await this.housekeeping.drain(held);
    } finally {
      clearInterval(this.heartbeatTimer);
    }
  }

  private hold(record: SessionRecord, limits: TenantLimits, wake: SnapshotLoader | null = null, restoredFromCheckpoint: number | null = null): Session {
    const { quotas, log, settings, clock, metrics } = this.options;
    const { id, tenant, user } = record;
    const owner = { tenant, user };
    const interpreter = new Interpreter(
      this.options.sandboxes.sourceFor(owner),
      (exit) => log.warn("sandbox_ended", { session_id: id, tenant, cause: exit.cause, detail: exit.detail.slice(0, 300) }),
      wake,
      record.env,
    );
    const session = new Session(id, owner, {
      interpreter,
      gate: quotas.cellGate(tenant, limits),
      llm: this.options.llm.forSession(owner, { recordText: record.rlmCallText }),
      settings,
      clock,
      log,
      metrics,
      onEnded: (ended, reason) => void this.forget(ended, reason),
      earlier: { createdAt: record.createdAt, lastActiveAt: record.lastActiveAt, cellCount: record.cellCount, executionCount: record.checkpointCount ?? 0 },
      restoredFromCheckpoint,
    });
    this.held.set(id, heldSession(session, { lastActiveAt: record.lastActiveAt, cellCount: record.cellCount }, record.snapshotKey));
    return session;
  }

  /**
   * A wake found the session's snapshot gone (a store that lost it: a Redis restarted empty): it
   * can never wake, so it ends as lost instead of failing every cell from then on.
   */
  private snapshotGone(id: string, reason: string): void {
    const held = this.held.get(id);
    if (!held) return;
    held.losing = "its saved state is no longer stored";
    this.options.log.warn("session_lost_snapshot_missing", { session_id: id, tenant: held.session.owner.tenant, reason });
    // After the work that woke it has heard why it failed.
    setImmediate(() => void held.session.end("lost"));
  }

  private async forget(session: Session, reason: EvictionReason): Promise<void> {
    const { quotas, store, hibernator, clock, log, retentionMs, pod } = this.options;
    const held = this.held.get(session.id);
    this.held.delete(session.id);
    quotas.closeSession(session.owner.tenant);
    this.ended.set(session.id, { owner: session.owner, reason, at: clock.now() });
    log.info("session_ended", { session_id: session.id, tenant: session.owner.tenant, reason, cells: session.cellCount, duration_ms: clock.now() - session.createdAt });
    this.options.metrics.sessionEnded(session.owner.tenant, reason);
    await this.policy.write(session.id, () =>
      // Only while this server holds it: never the record of a server that took it over.
      held?.losing
        ? store.end(session.id, "lost", held.losing, retentionMs, { pod: pod.name })
        : store.end(session.id, "evicted", reason, retentionMs, { pod: pod.name }),
    );
    const key = held?.snapshotKey;
    if (key) await hibernator.delete(key).catch((error: Error) => log.warn("snapshot_delete_failed", { session_id: session.id, reason: error.message }));
  }
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
    hibernated: record.state === "hibernated",
    attached_clients: 0,
  };
}
