// One client WebSocket attached to a session: frames in are validated, checked against the
// token's scopes and handed to the session; frames out are written unless the client stopped
// reading. The connection lives as long as its token: it closes at the token's expiry unless
// the client sends a fresh one (`auth`). What it has not read yet counts against its session's
// buffer budget (see sessions/buffers.ts); what it sends, against its rate limits (rate-limit.ts).
import type { RawData, WebSocket } from "ws";
import { CLOSE, type AuthenticatedFrame, type ClientFrame, type ErrorFrame } from "../../protocol/index.ts";
import { AuthError, requireScope, type Identity } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Attachment, Session } from "../sessions/session.ts";
import { inOrder, type FrameParser, type ParseOutcome } from "./frame-parser.ts";
import type { Allowance } from "./rate-limit.ts";
/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A client closed for its rate that does not answer the close is dropped after this long. */
const CLOSE_GRACE_MS = 1000;

export interface ConnectionContext {
  session: Session;
  identity: Identity;
  resumed: boolean;
  since: number | null;
  verifier: TokenVerifier;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** What the connection's identity may still send (shared by its connections). */
  allowance: Allowance;
  /** Parses large frames off the serving thread (shared by all connections). */
  parser: FrameParser;
}

/** Every frame the server writes is a JSON object whose first member is its type. */
const OUTGOING_TYPE = /^\{"type":"([a-z_]{1,32})"/;

export function connect(socket: WebSocket, context: ConnectionContext): void {
  const { session, verifier, clock, log, metrics, allowance } = context;
  let identity = context.identity;
  let expiry: NodeJS.Timeout | undefined;
  let rateLimited = false;

  // Dropped, not closed: a close frame would queue behind the very bytes the budget cannot hold.
  // The client sees 1006 and reconnects with `since`; the replay buffer has what it missed.
  const outbox = session.buffers.outbox((unsentBytes) => {
    log.info("connection_cut", { session_id: session.id, tenant: identity.tenant, unsent_bytes: unsentBytes });
    socket.terminate();
  });
  const attachment: Attachment = {
    send(frame) {
      if (socket.readyState !== socket.OPEN) return;
      const bytes = Buffer.byteLength(frame);
      if (!outbox.admit(bytes)) return;
      socket.send(frame, () => outbox.sent(bytes));
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

  // In arrival order; a large frame is parsed by a worker while this socket is not read (frame-parser.ts).
  // A bug handling one frame answers that frame (with its cell's id, so a client waiting on the
  // cell hears of it); the connection and the session go on.
  const onParsed = (parsed: ParseOutcome | null, receivedAt: number) => {
    metrics.frame(parsed?.ok ? parsed.frame.type : undefined, "in");
    if (parsed === null) return refuse("binary frames are not part of the protocol; send JSON text frames");
    if (!parsed.ok) return "code" in parsed ? reply({ type: "error", code: parsed.code, message: parsed.message }) : refuse(parsed.message);
    handle(parsed.frame, receivedAt);
  };
  const failed = (parsed: ParseOutcome | null) => reply({ type: "error", ...(parsed?.ok && idOf(parsed.frame)), code: "internal", message: INTERNAL_FRAME_ERROR });
  const frames = inOrder(socket, context.parser, guard(context, "frame", onParsed, failed));
  const receive = (data: RawData, isBinary: boolean) => {
    const receivedAt = performance.now();
    if (rateLimited) return;
    const overLimit = allowance.admit(frameBytes(data));
    if (overLimit) return closeForRate(overLimit);
    frames.push(data, isBinary, receivedAt);
  };
  socket.on("message", guard(context, "frame", receive, () => reply({ type: "error", code: "internal", message: INTERNAL_FRAME_ERROR })));
  // Before the frame is parsed: parsing is the cost the limit spares the other sessions. The
  // socket is no longer read (ws would still assemble, unmask and check every frame behind it),
  // and the identity's next connections are refused until its buckets are full (app.ts).
  const closeForRate = (limit: string) => {
    rateLimited = true;
    allowance.cut(limit);
    frames.halt();
    socket.pause();
    log.info("rate_limited", { session_id: session.id, tenant: identity.tenant, limit });
    socket.close(CLOSE.policy, `rate limit: ${limit}`.slice(0, MAX_CLOSE_REASON));
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  };
  metrics.wsConnections.inc();
  let detached = false;
  const detach = () => {
    clearTimeout(expiry);
    outbox.close();
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

/** A close frame's reason is at most 123 bytes. */
const MAX_CLOSE_REASON = 123;
const INTERNAL_FRAME_ERROR = "the server failed while handling this frame (a bug, logged with its stack); the session goes on";

function frameBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
}

function idOf(frame: ClientFrame): { id?: string } {
  return "id" in frame && frame.id !== undefined ? { id: frame.id } : {};
}
