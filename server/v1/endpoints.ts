// WebSocket /v1/sessions opens a session; WebSocket /v1/sessions/:id attaches to one, replaying
// what came after `since`. Either way the socket becomes one of the session's connections
// (connection.ts), unless the client is held back by its rate or the session is held elsewhere.
import type { Identity } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { Session } from "../sessions/session.ts";
import type { WebSocketExchange, WebSocketRoute } from "../http/endpoint.ts";
import type { FrameParser } from "./frame-parser.ts";
import type { OwnerForwarding } from "../http/forwarding.ts";
import type { RateLimiter } from "../http/rate-limit.ts";
import { refuseUpgrade } from "../http/responses.ts";
import { param } from "../http/routes.ts";
import { connect } from "./connection.ts";

export interface ConnectParts {
  registry: SessionRegistry;
  rates: RateLimiter;
  forwarding: OwnerForwarding;
  /** MAX_CONNECTIONS_PER_SESSION. */
  maxConnectionsPerSession: number;
  verifier: TokenVerifier;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  parser: FrameParser;
  /** UPLOAD_IDLE_TIMEOUT in ms. */
  uploadIdleMs: number;
}

export function sinceProblem(query: URLSearchParams): string | null {
  const since = query.get("since");
  return since !== null && !/^\d+$/.test(since) ? `since must be a sequence number (a whole number); got ${JSON.stringify(since)}` : null;
}

export function openSession(parts: ConnectParts): WebSocketRoute["handle"] {
  return (exchange, caller) => connectTo(parts, exchange, caller, () => parts.registry.open(caller), false);
}

export function attachSession(parts: ConnectParts): WebSocketRoute["handle"] {
  return (exchange, caller) => connectTo(parts, exchange, caller, () => parts.registry.find(param(exchange.params, "id"), caller, wasForwarded(exchange.request)), true);
}

async function connectTo(parts: ConnectParts, exchange: WebSocketExchange, identity: Identity, sessionFor: () => Promise<Session>, resumed: boolean): Promise<void> {
  const { request, socket, head, url } = exchange;
  const { rates, forwarding, maxConnectionsPerSession: maxConnections, verifier, clock, log, metrics, parser, uploadIdleMs } = parts;
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
  const since = url.searchParams.get("since");
  // Asked again, not kept from above: an idle allowance may have been pruned while the session opened.
  const allowance = rates.for(identity);
  exchange.accept((ws) => connect(ws, { session, identity, resumed, since: since === null ? null : Number(since), verifier, clock, log, metrics, allowance, parser, uploadIdleMs }));
}
