// The protocol v1 door: one client WebSocket attached to a session. Frames in are validated,
// checked against the token's scopes and turned into the session's commands (chunked payloads
// joined first, uploads.ts); the session's events go out as v1 frames (frames.ts) unless the
// client stopped reading. The connection lives as long as its token: it closes at the token's expiry unless
// the client sends a fresh one (`auth`). What it has not read yet counts against its session's
// buffer budget (see sessions/buffers.ts); what it sends, against its rate limits (rate-limit.ts).
import type { RawData, WebSocket } from "ws";
import type { ClientFrame, ServerFrame } from "../../protocol/index.ts";
import { AuthError, requireScope, type Identity } from "../auth/identity.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import { inOrder, type FrameParser, type ParseOutcome } from "./frame-parser.ts";
import { closeFor, rateLimitedInput, sessionOutput, tokenExpiry, whileOpen } from "../http/connection-limits.ts";
import type { Allowance } from "../http/rate-limit.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { SessionEvent } from "../sessions/events.ts";
import type { Attachment, Session } from "../sessions/session.ts";
import { frameOf, textOf, welcomeFrames } from "./frames.ts";
import { Uploads } from "./uploads.ts";

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
  /** UPLOAD_IDLE_TIMEOUT in ms: an unfinished upload without a new chunk this long is dropped. */
  uploadIdleMs: number;
}

export function connect(socket: WebSocket, context: ConnectionContext): void {
  const { session, verifier, clock, log, metrics, allowance } = context;
  let identity = context.identity;

  // A client cut for being behind reconnects with `since`; the replay buffer has what it missed.
  const output = sessionOutput(socket, session, log, identity.tenant);
  const write = (type: string, text: string) => output.send(text, () => metrics.frame(type, "out"));
  const reply = (frame: ServerFrame) => write(frame.type, JSON.stringify(frame));
  const refuse = (message: string) => reply({ type: "error", code: "bad_request", message });
  const uploads = new Uploads(session, { log, metrics, idleMs: context.uploadIdleMs });
  const attachment: Attachment = {
    deliver(event: SessionEvent) {
      if (event.type === "queued" || event.type === "started") return;
      const { type, text } = textOf(event);
      write(type, text);
      if (event.type === "evicted") {
        uploads.close();
        socket.close(...closeFor(event));
      }
    },
  };

  const expiry = tokenExpiry(socket, clock, context);

  const reauthenticate = async (token: string) => {
    try {
      const fresh = await verifier.verify(token);
      if (fresh.user !== identity.user || fresh.tenant !== identity.tenant) {
        throw new AuthError("forbidden", "identity_changed", "the new token is for another user or tenant; a connection keeps its identity");
      }
      identity = fresh;
      expiry.arm(identity.expiresAt);
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
    if (frame.type === "ping") return reply({ type: "pong", ...(frame.id !== undefined && { id: frame.id }) });
    try {
      requireScope(identity, "sessions:execute");
    } catch (error) {
      return reply({ type: "error", ...idOf(frame), code: "forbidden", message: (error as Error).message });
    }
    command(frame, receivedAt);
  };
  /** A command the session could not apply concerns the client that sent it alone. */
  const answerProblem = (frame: ClientFrame, problem: string | null) => {
    if (problem !== null) reply({ type: "error", ...idOf(frame), code: "bad_request", message: problem });
  };
  const command = (frame: Exclude<ClientFrame, { type: "auth" | "ping" }>, receivedAt: number) => {
    switch (frame.type) {
      case "execute":
        return session.execute(frame.id, frame.code, frame.timeout, frame.locals ?? "all");
      case "set_vars":
        return session.setVars(frame.id, frame.vars);
      case "install":
        return session.install(frame.id, frame.filename, Buffer.from(frame.wheel, "base64"));
      case "add_context":
      case "add_history":
        return uploads.receive(frame, receivedAt);
      case "reset":
        return session.reset(frame.id);
      case "interrupt":
        return answerProblem(frame, session.interrupt(frame.id));
      case "input_reply":
        return answerProblem(frame, session.input(frame.id, frame.value));
      case "set_tools":
        return session.setTools(frame.id, frame.tools, attachment);
      case "tool_result":
        // Validation took one of the two; the value goes on to Python as JSON text.
        return answerProblem(frame, session.toolResult(frame.call_id, frame.error !== undefined ? { error: frame.error } : { value: JSON.stringify(frame.value) }));
      case "close":
        void session.end("closed");
    }
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
  const input = rateLimitedInput(socket, allowance, log, { session_id: session.id, tenant: identity.tenant }, () => frames.halt());
  const receive = (data: RawData, isBinary: boolean) => {
    const receivedAt = performance.now();
    if (input.receive(data)) frames.push(data, isBinary, receivedAt);
  };
  socket.on("message", guard(context, "frame", receive, () => reply({ type: "error", code: "internal", message: INTERNAL_FRAME_ERROR })));
  whileOpen(socket, metrics, () => {
    expiry.clear();
    uploads.close();
    output.close();
    session.detach(attachment);
  });
  expiry.arm(identity.expiresAt);
  const welcome = session.attach(attachment, context.since);
  for (const frame of welcomeFrames(session.id, context.resumed, welcome)) reply(frame);
  for (const event of welcome.replay) attachment.deliver(event);
}

const INTERNAL_FRAME_ERROR = "the server failed while handling this frame (a bug, logged with its stack); the session goes on";

function idOf(frame: ClientFrame): { id?: string } {
  return "id" in frame && frame.id !== undefined ? { id: frame.id } : {};
}
