// A WebSocket upgrade that becomes one of a session's connections, whichever door it is for:
// refused while its client is held back for its rate, passed to the server that holds the session
// when another does, refused when the session has its MAX_CONNECTIONS_PER_SESSION, else accepted.
import type { WebSocket } from "ws";
import type { Identity } from "../auth/identity.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { Session } from "../sessions/session.ts";
import type { WebSocketExchange } from "./endpoint.ts";
import type { OwnerForwarding } from "./forwarding.ts";
import type { Allowance, RateLimiter } from "./rate-limit.ts";
import { refuseUpgrade } from "./responses.ts";

export interface SessionUpgradeParts {
  rates: RateLimiter;
  forwarding: OwnerForwarding;
  /** MAX_CONNECTIONS_PER_SESSION. */
  maxConnectionsPerSession: number;
}

export async function upgradeToSession(
  parts: SessionUpgradeParts,
  exchange: WebSocketExchange,
  identity: Identity,
  sessionFor: () => Promise<Session>,
  connect: (ws: WebSocket, session: Session, allowance: Allowance) => void,
): Promise<void> {
  const { request, socket, head } = exchange;
  const { rates, forwarding, maxConnectionsPerSession: maxConnections } = parts;
  // A client just closed for its rate is refused until its allowance refills: before a session
  // is opened or woken for it, and before it can send a frame.
  const cut = rates.for(identity).refusal();
  if (cut) {
    const seconds = (cut.retryAfterMs / 1000).toFixed(1);
    return refuseUpgrade(socket, "quota_exceeded", `rate limit: ${cut.limit}; a connection of this client was closed for it, and its connections are refused until its allowance refills (in ${seconds} s)`);
  }
  let session: Session;
  try {
    session = await sessionFor();
  } catch (error) {
    if (error instanceof HeldElsewhere) return forwarding.upgrade(request, socket, head, error);
    throw error;
  }
  // accept attaches synchronously, so no other upgrade can slip in between.
  if (session.attached >= maxConnections) {
    return refuseUpgrade(socket, "quota_exceeded", `session ${session.id} already has ${maxConnections} connections (MAX_CONNECTIONS_PER_SESSION); close one first`);
  }
  // Asked again, not kept from above: an idle allowance may have been pruned while the session opened.
  const allowance = rates.for(identity);
  exchange.accept((ws) => connect(ws, session, allowance));
}
