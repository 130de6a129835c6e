// One client WebSocket attached to a session: frames in are validated, checked against the
// token's scopes and handed to the session; frames out are written unless the client stopped
// reading. The connection lives as long as its token: it closes at the token's expiry unless
// the client sends a fresh one (`auth`).
import type { RawData, WebSocket } from "ws";
import { CLOSE, parseClientFrame, type AuthenticatedFrame, type ClientFrame, type ErrorFrame } from "../../protocol/index.ts";
import { AuthError, requireScope, type Identity } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Attachment, Session } from "../sessions/session.ts";

/** A client this far behind is cut off; it reconnects with `since` and loses nothing. */
const MAX_UNSENT_BYTES = 32 * 1024 * 1024;
/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionContext {
  session: Session;
  identity: Identity;
  resumed: boolean;
  since: number | null;
  verifier: TokenVerifier;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

/** Every frame the server writes is a JSON object whose first member is its type. */
const OUTGOING_TYPE = /^\{"type":"([a-z_]{1,32})"/;

export function connect(socket: WebSocket, context: ConnectionContext): void {
  const { session, verifier, clock, log, metrics } = context;
  let identity = context.identity;
  let expiry: NodeJS.Timeout | undefined;

  const attachment: Attachment = {
    send(frame) {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > MAX_UNSENT_BYTES) {
        socket.close(CLOSE.slowConsumer, "too far behind: reconnect with since");
        return;
      }
      socket.send(frame);
      metrics.frame(OUTGOING_TYPE.exec(frame)?.[1], "out");
    },
    close(code, reason) {
      socket.close(code, reason);
    },
  };
  const reply = (frame: ErrorFrame | AuthenticatedFrame) => attachment.send(JSON.stringify(frame));
  const refuse = (message: string) => reply({ type: "error", code: "bad_request", message });

  const armExpiry = () => {
    clearTimeout(expiry);
    const left = identity.expiresAt - clock.now();
    const expire = () => (clock.now() >= identity.expiresAt ? socket.close(CLOSE.tokenExpired, "token_expired") : armExpiry());
    expiry = setTimeout(guard(context, "timer", expire), Math.max(0, Math.min(left, MAX_TIMER_MS)));
  };

  const reauthenticate = async (token: string) => {
    try {
      const fresh = await verifier.verify(token);
      if (fresh.user !== identity.user || fresh.tenant !== identity.tenant) {
        throw new AuthError("forbidden", "identity_changed", "the new token is for another user or tenant; a connection keeps its identity");
      }
      identity = fresh;
      armExpiry();
      reply({ type: "authenticated", expires_at: identity.expiresAt });
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      log.info("auth_failed", { reason: error.reason, session_id: session.id, tenant: identity.tenant });
      metrics.authFailed(error.reason);
      reply({ type: "error", code: error.code, message: `${error.message}; the connection keeps its current token` });
    }
  };

  const handle = (frame: ClientFrame, receivedAt: number) => {
    if (frame.type === "auth") return reauthenticate(frame.token);
    if (frame.type !== "ping") {
      try {
        requireScope(identity, "sessions:execute");
      } catch (error) {
        return reply({ type: "error", ...idOf(frame), code: "forbidden", message: (error as Error).message });
      }
    }
    session.receive(frame, attachment, receivedAt);
  };

  const parse = (data: RawData, isBinary: boolean) => (isBinary ? null : parseClientFrame(data.toString()));
  const receive = (data: RawData, isBinary: boolean) => {
    const receivedAt = performance.now();
    const parsed = parse(data, isBinary);
    metrics.frame(parsed?.ok ? parsed.frame.type : undefined, "in");
    if (parsed === null) return refuse("binary frames are not part of the protocol; send JSON text frames");
    if (!parsed.ok) return refuse(parsed.message);
    return handle(parsed.frame, receivedAt);
  };
  // A bug handling one frame answers that frame (with its cell's id, so a client waiting on the
  // cell hears of it); the connection and the session go on.
  const failed = (data: RawData, isBinary: boolean) => {
    const parsed = parse(data, isBinary);
    reply({ type: "error", ...(parsed?.ok && idOf(parsed.frame)), code: "internal", message: "the server failed while handling this frame (a bug, logged with its stack); the session goes on" });
  };
  socket.on("message", guard(context, "frame", receive, failed));
  metrics.wsConnections.inc();
  let detached = false;
  const detach = () => {
    clearTimeout(expiry);
    session.detach(attachment);
    if (detached) return;
    detached = true;
    metrics.wsConnections.dec();
  };
  socket.on("close", detach);
  // ws reports protocol violations (an oversized frame, a bad opcode) here and closes the socket itself.
  socket.on("error", detach);
  armExpiry();
  session.attach(attachment, context.resumed, context.since);
}

function idOf(frame: ClientFrame): { id?: string } {
  return "id" in frame && frame.id !== undefined ? { id: frame.id } : {};
}
