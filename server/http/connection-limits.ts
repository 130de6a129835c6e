// What bounds every client WebSocket attached to a session, whichever door it came through: what
// it has not read yet counts against its session's buffer budget (sessions/buffers.ts), what it
// sends against its identity's rates (rate-limit.ts), and it lives no longer than its token.
import type { RawData, WebSocket } from "ws";
import { CLOSE } from "../../protocol/index.ts";
import { guard, type Reporter } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { EvictedEvent } from "../sessions/events.ts";
import type { Session } from "../sessions/session.ts";
import type { Allowance } from "./rate-limit.ts";

/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A client closed for its rate that does not answer the close is dropped after this long. */
const CLOSE_GRACE_MS = 1000;
/** A close frame's reason is at most 123 bytes. */
const MAX_CLOSE_REASON = 123;

export interface SessionOutput {
  /** Sends a frame unless the socket is closing or the connection was cut; `counted` when it went out. */
  send(data: string | Buffer, counted: () => void): void;
  /** The connection is gone: what it had not sent goes back to the budget. */
  close(): void;
}

/**
 * A connection's frames out. One that does not fit its session's budget drops the connections
 * furthest behind: dropped, not closed, since a close frame would queue behind the very bytes the
 * budget cannot hold. The client sees 1006 and reconnects.
 */
export function sessionOutput(socket: WebSocket, session: Session, log: Logger, tenant: string): SessionOutput {
  const outbox = session.buffers.outbox((unsentBytes) => {
    log.info("connection_cut", { session_id: session.id, tenant, unsent_bytes: unsentBytes });
    socket.terminate();
  });
  return {
    send(data, counted) {
      if (socket.readyState !== socket.OPEN) return;
      const bytes = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
      if (!outbox.admit(bytes)) return;
      socket.send(data, () => outbox.sent(bytes));
      counted();
    },
    close: () => outbox.close(),
  };
}

/**
 * Counts the socket among the open connections until it closes or fails (ws reports a protocol
 * violation, an oversized frame or a bad opcode, as an error and closes the socket itself);
 * `released` then runs, once.
 */
export function whileOpen(socket: WebSocket, metrics: Pick<Metrics, "wsConnections">, released: () => void): void {
  metrics.wsConnections.inc();
  let open = true;
  const end = () => {
    if (!open) return;
    open = false;
    released();
    metrics.wsConnections.dec();
  };
  socket.on("close", end);
  socket.on("error", end);
}

export interface TokenExpiry {
  /** (Re)arms the close for a token that expires at `expiresAt` (ms since the epoch). */
  arm(expiresAt: number): void;
  clear(): void;
}

/** Closes the socket with 4001 (token_expired) when its token expires, unless re-armed first with a fresher one. */
export function tokenExpiry(socket: WebSocket, clock: Clock, reporter: Reporter): TokenExpiry {
  let timer: NodeJS.Timeout | undefined;
  const arm = (expiresAt: number) => {
    clearTimeout(timer);
    const expire = () => (clock.now() >= expiresAt ? socket.close(CLOSE.tokenExpired, "token_expired") : arm(expiresAt));
    timer = setTimeout(guard(reporter, "timer", expire), Math.max(0, Math.min(expiresAt - clock.now(), MAX_TIMER_MS)));
  };
  return { arm, clear: () => clearTimeout(timer) };
}

export interface RateLimitedInput {
  /** Takes a frame the socket received; past the allowance, closes the connection instead (once) and takes nothing more. */
  receive(data: RawData): boolean;
}

/**
 * A connection's frames in, against its identity's allowance, before they are parsed: parsing is
 * the cost the limit spares the other sessions. The frame past a limit closes the connection
 * with 1008; the socket is no longer read (ws would still assemble, unmask and check every frame
 * behind it), and the identity's next connections are refused until its buckets are full.
 * `stopped` is told the limit, for the door to stop what it still had queued.
 */
export function rateLimitedInput(socket: WebSocket, allowance: Allowance, log: Logger, fields: Record<string, unknown>, stopped: () => void): RateLimitedInput {
  let limited = false;
  return {
    receive(data) {
      if (limited) return false;
      const limit = allowance.admit(Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength);
      if (limit === null) return true;
      limited = true;
      allowance.cut(limit);
      stopped();
      socket.pause();
      log.info("rate_limited", { ...fields, limit });
      socket.close(CLOSE.policy, `rate limit: ${limit}`.slice(0, MAX_CLOSE_REASON));
      setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
      return false;
    },
  };
}

/** How a connection closes when its session let go of it: moving elsewhere (1012), or ended. */
export function closeFor(event: EvictedEvent): [number, string] {
  if (event.resumable) return [CLOSE.restarting, "session moved"];
  return [event.reason === "shutdown" ? CLOSE.restarting : CLOSE.normal, `session ${event.reason}`];
}
