// The sessions this server holds: opening, finding (only by their owner), idle eviction, and
// remembering ended ones for a while so a late attach hears "expired" rather than "not found".
import { randomBytes } from "node:crypto";
import type { ErrorCode, EvictionReason } from "../../protocol/index.ts";
import type { Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { Interpreter, type SandboxSource } from "../sandbox/interpreter.ts";
import { Session, type SessionSettings } from "./session.ts";

export interface RegistryOptions {
  maxSessions: number;
  idleTimeoutMs: number;
  /** How long an ended session's id answers session_expired. */
  retentionMs: number;
  settings: SessionSettings;
  sandboxes: SandboxSource;
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
  owner: Identity;
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
    const { maxSessions } = this.options;
    if (this.live.size >= maxSessions) {
      throw new SessionError("quota_exceeded", `this server holds its maximum of ${maxSessions} sessions (MAX_SESSIONS, in use: ${this.live.size}); close one or retry later`);
    }
    const id = randomBytes(16).toString("base64url");
    const log = this.options.log;
    const interpreter = new Interpreter(this.options.sandboxes, (exit) =>
      log.warn("sandbox_ended", { session_id: id, tenant: owner.tenant, cause: exit.cause, detail: exit.detail.slice(0, 300) }),
    );
    const session = new Session(id, owner, interpreter, this.options.settings, this.options.clock, log, (ended, reason) => this.forget(ended, reason));
    this.live.set(id, session);
    log.info("session_opened", { session_id: id, tenant: owner.tenant, user: owner.user });
    return session;
  }

  /** The caller's session with this id. Someone else's answers exactly as a missing one does. */
  find(id: string, caller: Identity): Session {
    const session = this.live.get(id);
    if (session && owns(caller, session.owner)) return session;
    const ended = this.ended.get(id);
    if (ended && owns(caller, ended.owner)) {
      throw new SessionError("session_expired", `session ${id} ended (${ended.reason}); open a new session`);
    }
    throw new SessionError("session_not_found", `there is no session ${id}; open a new session`);
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
    this.ended.set(session.id, { owner: session.owner, reason, at: this.options.clock.now() });
    this.options.log.info("session_ended", { session_id: session.id, tenant: session.owner.tenant, reason, cells: session.cellCount });
  }
}

function owns(caller: Identity, owner: Identity): boolean {
  return caller.tenant === owner.tenant && caller.user === owner.user;
}
