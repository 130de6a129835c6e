// Why a session request was refused, as its client hears it (an error code and a message that
// says what to do), and the one "refusal" that is not: the session lives on another server.
import type { ErrorCode } from "../../protocol/index.ts";

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

export function drainingError(): SessionError {
  return new SessionError("server_draining", "this server is shutting down; retry through another (its sessions move there)");
}

export function lost(id: string, reason: string | null): SessionError {
  return new SessionError("session_lost", `session ${id} was lost: ${reason ?? "its server stopped"}; its state could not be recovered, open a new session`);
}

export function expired(id: string, reason: string): SessionError {
  return new SessionError("session_expired", `session ${id} ended (${reason}); open a new session`);
}
