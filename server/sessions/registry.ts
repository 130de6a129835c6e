// The sessions this server holds: opening (within the server's and the tenant's quotas),
// finding (only by those allowed to see them), listing, idle eviction, and remembering ended
// ones for a while so a late attach hears "expired" rather than "not found".
import { randomBytes } from "node:crypto";
import type { ErrorCode, EvictionReason, SessionSummary } from "../../protocol/index.ts";
import { mayAccess, type Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { Interpreter } from "../sandbox/interpreter.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { QuotaExceeded, type TenantQuotas } from "../tenancy/quotas.ts";
import { Session, type SessionSettings } from "./session.ts";

export interface RegistryOptions {
  maxSessions: number;
  idleTimeoutMs: number;
  /** How long an ended session's id answers session_expired. */
  retentionMs: number;
  settings: SessionSettings;
  /** Hands out sandboxes; the key (a tenant) shares them fairly when they are scarce. */
  sandboxes: { take(key: string): Promise<Sandbox> };
  quotas: TenantQuotas;
  clock: Clock;
  log: Logger;
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

export class SessionRegistry {
  private readonly live = new Map<string, Session>();
  private readonly ended = new Map<string, Ended>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: RegistryOptions) {
    // Sweeping a few times per idle period keeps eviction within a fraction of the timeout.
    const interval = Math.min(5000, Math.max(50, options.idleTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
  }

  get size(): number {
    return this.live.size;
  }

  open(owner: Identity): Session {
    const { maxSessions, quotas, log } = this.options;
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
    const { tenant, user } = owner;
    const limits = quotas.limitsFor(owner);
    const interpreter = new Interpreter({ take: () => this.options.sandboxes.take(tenant) }, (exit) =>
      log.warn("sandbox_ended", { session_id: id, tenant, cause: exit.cause, detail: exit.detail.slice(0, 300) }),
    );
    const gate = { start: () => quotas.startCell(tenant, limits), finish: () => quotas.finishCell(tenant) };
    const session = new Session(id, { tenant, user }, interpreter, gate, this.options.settings, this.options.clock, log, (ended, reason) =>
      this.forget(ended, reason),
    );
    this.live.set(id, session);
    log.info("session_opened", { session_id: id, tenant, user });
    return session;
  }

  /** The session with this id, if the caller may access it; anyone else's answers exactly as a missing one. */
  find(id: string, caller: Identity): Session {
    const session = this.live.get(id);
    if (session && mayAccess(caller, session.owner)) return session;
    const ended = this.ended.get(id);
    if (ended && mayAccess(caller, ended.owner)) {
      throw new SessionError("session_expired", `session ${id} ended (${ended.reason}); open a new session`);
    }
    throw new SessionError("session_not_found", `there is no session ${id}; open a new session`);
  }

  /** The caller's sessions (a tenant admin: the tenant's). */
  list(caller: Identity): SessionSummary[] {
    return [...this.live.values()].filter((session) => mayAccess(caller, session.owner)).map((session) => session.summary());
  }

  /** Evicts sessions idle past the timeout and forgets ended ones past retention. */
  sweep(): void {
    const now = this.options.clock.now();
    for (const session of this.live.values()) {
      const idleSince = session.idleSince();
      if (idleSince !== null && now - idleSince >= this.options.idleTimeoutMs) void session.end("idle");
    }
    for (const [id, ended] of this.ended) {
      if (now - ended.at >= this.options.retentionMs) this.ended.delete(id);
    }
  }

  /** Ends every session (clients are told `evicted {reason: "shutdown"}`). */
  async shutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.live.values()].map((session) => session.end("shutdown")));
  }

  private forget(session: Session, reason: EvictionReason): void {
    this.live.delete(session.id);
    this.options.quotas.closeSession(session.owner.tenant);
    this.ended.set(session.id, { owner: session.owner, reason, at: this.options.clock.now() });
    this.options.log.info("session_ended", { session_id: session.id, tenant: session.owner.tenant, reason, cells: session.cellCount });
  }
}
