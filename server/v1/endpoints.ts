// WebSocket /v1/sessions opens a session; WebSocket /v1/sessions/:id attaches to one, replaying
// what came after `since`. Either way the socket becomes one of the session's connections
// (connection.ts), unless the client is held back by its rate or the session is held elsewhere.
import { PROTOCOL } from "../../protocol/index.ts";
import type { Identity } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { Session } from "../sessions/session.ts";
import type { WebSocketExchange, WebSocketRoute } from "../http/endpoint.ts";
import type { FrameParser } from "./frame-parser.ts";
import { param } from "../http/routes.ts";
import { upgradeToSession, type SessionUpgradeParts } from "../http/session-upgrade.ts";
import { connect } from "./connection.ts";

export interface ConnectParts extends SessionUpgradeParts {
  registry: SessionRegistry;
  verifier: TokenVerifier;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  parser: FrameParser;
  /** UPLOAD_IDLE_TIMEOUT in ms. */
  uploadIdleMs: number;
}

/** The v1 door answers its protocol, whatever else was offered (the token may ride in the list). */
export function v1Subprotocol(offered: ReadonlySet<string>): string | false {
  return offered.has(PROTOCOL) ? PROTOCOL : false;
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
  const { verifier, clock, log, metrics, parser, uploadIdleMs } = parts;
  const since = exchange.url.searchParams.get("since");
  await upgradeToSession(parts, exchange, identity, sessionFor, (ws, session, allowance) =>
    connect(ws, { session, identity, resumed, since: since === null ? null : Number(since), verifier, clock, log, metrics, allowance, parser, uploadIdleMs }),
  );
}
