// The Jupyter door's connection: one client WebSocket (GET /api/kernels/{id}/channels) attached
// to a session, speaking Jupyter's messaging protocol. Requests become the session's commands; the
// session's events become iopub, shell and stdin messages, each with the request it answers as its
// parent_header, between a `status: busy` and a `status: idle`.
//
// Work this connection asked for is answered in full (execute_input, outputs, the reply). Work of
// anyone else on the session (another connection, a v1 client, a REST restart) is broadcast on
// iopub as a kernel does: its status and outputs, under a parent header naming the work's id.
// The connection is bounded as every session connection is (http/connection-limits.ts).
import { randomUUID } from "node:crypto";
import type { RawData, WebSocket } from "ws";
import { requireScope, AuthError, type Identity, type Scope } from "../auth/identity.ts";
import { guard } from "../boundary.ts";
import type { Clock } from "../clock.ts";
import { closeFor, rateLimitedInput, sessionOutput, tokenExpiry, whileOpen } from "../http/connection-limits.ts";
import type { Allowance } from "../http/rate-limit.ts";
import type { Logger } from "../log.ts";
import { JUPYTER_FRAME_TYPE, type Metrics } from "../metrics.ts";
import type { ClearOutputEvent, DisplayEvent, ErrorEvent, InputRequestEvent, ResultEvent, SessionEvent, StartedEvent, StreamEvent } from "../sessions/events.ts";
import type { Attachment, Session } from "../sessions/session.ts";
import { decode, encode, type Framing } from "./framing.ts";
import { historyEntries } from "./history.ts";
import { introspectionReply, introspectRequest, type IntrospectionRequest } from "./introspection.ts";
import { kernelIdOf } from "./kernel-ids.ts";
import { kernelInfo } from "./kernelspec.ts";
import { channelFor, errorFields, errorReply, kernelMessage, replyType, type Channel, type ClientMessage, type Sender } from "./messages.ts";
import { ABORTED_REPLY, displayed, ranCell, refusedCell, type CellEnd } from "./outputs.ts";
import { parseRequest, type KernelRequest } from "./requests.ts";

export interface ChannelsContext {
  session: Session;
  identity: Identity;
  framing: Framing;
  /** The interpreter's Python version, for kernel_info_reply. */
  pythonVersion: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** What the connection's identity may still send (shared by its connections). */
  allowance: Allowance;
}

/** A request this connection made of the session, by the session's work id. */
interface Asked {
  header: ClientMessage["header"];
  channel: Channel;
}

interface AskedCell extends Asked {
  code: string;
  silent: boolean;
  storeHistory: boolean;
  stopOnError: boolean;
  /** Its `started` came: status busy was sent. */
  started: boolean;
  /** Cancelled because an earlier cell of this connection failed (stop_on_error). */
  aborted: boolean;
}

/** The scope a request needs: anything that reaches the interpreter needs sessions:execute. */
const SCOPE: Record<KernelRequest["type"], Scope> = {
  kernel_info: "sessions:read",
  history: "sessions:read",
  comm_info: "sessions:read",
  comm_open: "sessions:read",
  comm_ignored: "sessions:read",
  execute: "sessions:execute",
  complete: "sessions:execute",
  inspect: "sessions:execute",
  is_complete: "sessions:execute",
  shutdown: "sessions:execute",
  interrupt: "sessions:execute",
  input_reply: "sessions:execute",
};

/** As many as the session keeps inputs for history (sessions/session.ts MAX_INPUTS). */
const MAX_UNSTORED = 1000;

const INTERNAL = "the server failed while handling this message (a bug, logged with its stack); the kernel goes on";

export function connectChannels(socket: WebSocket, context: ChannelsContext): void {
  const { session, identity, framing, log, metrics } = context;
  const sender: Sender = { session: kernelIdOf(session.id), username: identity.user };
  const outbound = sessionOutput(socket, session, log, identity.tenant);
  const say = (channel: Channel, msgType: string, content: Record<string, unknown>, parent: Record<string, unknown>) =>
    outbound.send(encode(kernelMessage(sender, channel, msgType, content, parent), framing), () => metrics.frame(JUPYTER_FRAME_TYPE, "out"));
  const status = (state: "busy" | "idle", parent: Record<string, unknown>) => say("iopub", "status", { execution_state: state }, parent);
  const reply = (asked: Asked, content: Record<string, unknown>) => say(asked.channel, replyType(asked.header.msg_type), content, asked.header);

  const cells = new Map<string, AskedCell>();
  /** shutdown_request {restart: true}: the reset queued for it, answered when it is done. */
  const restarts = new Map<string, Asked>();
  /** Work of others whose start was broadcast (busy), so its end is too (idle). */
  const othersStarted = new Set<string>();
  const foreign = (id: string) => ({ msg_id: id });
  /** Execution counts of this client's cells run with store_history false: history_request leaves them out. */
  const unstored = new Set<number>();
  const forget = (count: number) => {
    unstored.add(count);
    // The session keeps at most MAX_INPUTS inputs; counts older than those it dropped mean nothing.
    if (unstored.size > MAX_UNSTORED) unstored.delete(unstored.values().next().value!);
  };
  /** This client's cell waiting in input() for an input_reply. */
  let waitingInput: string | null = null;

  // ---- the session's events ----

  const started = (event: StartedEvent) => {
    const cell = cells.get(event.id);
    if (cell) {
      cell.started = true;
      status("busy", cell.header);
      // The cell about to run takes the next count (cells of a session run one at a time).
      if (!cell.silent) say("iopub", "execute_input", { code: cell.code, execution_count: session.executionCount + 1 }, cell.header);
    } else if (!restarts.has(event.id)) {
      othersStarted.add(event.id);
      status("busy", foreign(event.id));
    }
  };

  /** Output while a cell runs, on iopub under its request; none for a silent cell. */
  const output = (event: StreamEvent | DisplayEvent | ClearOutputEvent) => {
    const cell = cells.get(event.id);
    if (cell?.silent) return;
    const parent = cell?.header ?? foreign(event.id);
    if (event.type === "stream") return say("iopub", "stream", { name: event.name, text: event.text }, parent);
    if (event.type === "clear_output") return say("iopub", "clear_output", { wait: event.wait }, parent);
    const { msgType, content } = displayed(event);
    say("iopub", msgType, content, parent);
  };

  /**
   * input() in one of this client's cells asks it on stdin (a client that said it cannot answer,
   * allow_stdin false, never gets here: its cell's input() raises EOFError). Another client's
   * cell is that client's to answer.
   */
  const inputRequested = (event: InputRequestEvent) => {
    const cell = cells.get(event.id);
    if (!cell) return;
    waitingInput = event.id;
    say("stdin", "input_request", { prompt: event.prompt, password: event.password }, cell.header);
  };

  const publish = (end: CellEnd, parent: Record<string, unknown>) => {
    for (const { msgType, content } of end.outputs) say("iopub", msgType, content, parent);
  };

  /** The end of one of this connection's cells: outputs, reply, idle; a failure aborts its queued cells. */
  const finish = (id: string, cell: AskedCell, end: CellEnd) => {
    cells.delete(id);
    if (waitingInput === id) waitingInput = null;
    if (!cell.started) status("busy", cell.header);
    if (cell.aborted) {
      reply(cell, { ...ABORTED_REPLY });
      return status("idle", cell.header);
    }
    if (!cell.silent) publish(end, cell.header);
    if (!cell.storeHistory) forget(end.reply.execution_count as number);
    reply(cell, end.reply);
    status("idle", cell.header);
    if (end.failed && cell.stopOnError) abortQueued();
  };

  /** Cancels this connection's cells that have not started; each is answered `aborted` as its cancellation comes back. */
  const abortQueued = () => {
    for (const [id, cell] of [...cells]) {
      if (cell.started) continue;
      cell.aborted = true;
      session.interrupt(id);
    }
  };

  const ended = (event: ResultEvent | ErrorEvent) => {
    const cell = cells.get(event.id);
    if (cell) {
      const end = event.type === "result" ? ranCell(event.result, session.executionCount) : refusedCell(event.code, event.message, session.executionCount);
      return finish(event.id, cell, end);
    }
    const restart = restarts.get(event.id);
    if (restart) {
      restarts.delete(event.id);
      const content = event.type === "result" ? { status: "ok", restart: true } : errorReply(errorFields(event.code, event.message));
      reply(restart, content);
      say("iopub", "shutdown_reply", content, restart.header);
      return status("idle", restart.header);
    }
    if (event.type === "result" && event.kind === "execute") publish(ranCell(event.result, session.executionCount), foreign(event.id));
    if (othersStarted.delete(event.id)) status("idle", foreign(event.id));
  };

  const attachment: Attachment = {
    deliver(event: SessionEvent) {
      switch (event.type) {
        case "queued":
          return;
        case "started":
          return started(event);
        case "stream":
        case "display":
        case "clear_output":
          return output(event);
        case "input_request":
          return inputRequested(event);
        case "tool_call":
          return; // Jupyter's clients declare no tools: another door's client answers
        case "result":
        case "error":
          return ended(event);
        case "evicted":
          return socket.close(...closeFor(event));
      }
    },
  };

  // ---- the client's requests ----

  /** A request answered at once: busy, its reply (if it has one), idle. */
  const answer = (asked: Asked, content: Record<string, unknown> | null, alsoOnIopub?: { msgType: string; content: Record<string, unknown> }) => {
    status("busy", asked.header);
    if (content !== null) reply(asked, content);
    if (alsoOnIopub) say("iopub", alsoOnIopub.msgType, alsoOnIopub.content, asked.header);
    status("idle", asked.header);
  };
  const refuse = (asked: Asked, code: string, problem: string) => answer(asked, errorReply(errorFields(code, problem)));

  const handle = (message: ClientMessage) => {
    const asked: Asked = { header: message.header, channel: channelFor(message.channel, message.header.msg_type) };
    const parsed = parseRequest(message.header.msg_type, message.content);
    if (!parsed.ok) return refuse(asked, "bad_request", parsed.problem);
    const { request } = parsed;
    try {
      requireScope(identity, SCOPE[request.type]);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return refuse(asked, error.code, error.message);
    }
    switch (request.type) {
      case "kernel_info":
        return answer(asked, kernelInfo(context.pythonVersion));
      case "execute": {
        const id = `jupyter-${randomUUID()}`;
        cells.set(id, { ...asked, code: request.code, silent: request.silent, storeHistory: request.storeHistory, stopOnError: request.stopOnError, started: false, aborted: false });
        // Jupyter has no per-cell timeout to ask for: a notebook's cell may run as long as the server allows.
        return session.execute(id, request.code, session.limits.max_execution_timeout, "none", { stdin: request.allowStdin });
      }
      case "comm_info":
        return answer(asked, { status: "ok", comms: {} });
      case "comm_open":
        // No comm target exists here (no widgets run): the comm is closed at once, as a kernel
        // without the target does.
        return answer(asked, null, { msgType: "comm_close", content: { comm_id: request.commId, data: {} } });
      case "comm_ignored":
        return answer(asked, null);
      case "interrupt":
        session.interrupt();
        return answer(asked, { status: "ok" });
      case "shutdown":
        if (!request.restart) {
          answer(asked, { status: "ok", restart: false }, { msgType: "shutdown_reply", content: { status: "ok", restart: false } });
          return void session.end("closed");
        }
        // A fresh interpreter: what runs is interrupted, what this client queued never runs,
        // and the reply comes once the reset is done.
        session.interrupt();
        abortQueued();
        status("busy", asked.header);
        return restartWith(asked);
      case "history": {
        const inputs = session.inputs().filter((input) => !unstored.has(input.execution_count));
        return answer(asked, { status: "ok", history: historyEntries(inputs, request.query, request.output) });
      }
      case "complete":
      case "inspect":
      case "is_complete":
        return introspect(asked, request);
      case "input_reply": {
        // A reply to an input_request: it has no reply and no status of its own.
        const problem = waitingInput === null ? "no cell of this client is waiting for input" : session.input(waitingInput, request.value);
        if (problem !== null) return refuse(asked, "bad_request", problem);
        waitingInput = null;
        return;
      }
    }
  };
  /** Introspection waits its turn behind queued cells; the kernel is busy for this request until it is answered. */
  const introspect = async (asked: Asked, request: IntrospectionRequest) => {
    status("busy", asked.header);
    reply(asked, introspectionReply(request, await session.introspect(introspectRequest(request))));
    status("idle", asked.header);
  };
  const restartWith = (asked: Asked) => {
    const id = `jupyter-restart-${randomUUID()}`;
    restarts.set(id, asked);
    session.reset(id);
  };

  /** A frame that is not a message this kernel can read: answered as a reply to its request when it had a readable header, else as an `error` on iopub. */
  const unreadable = (problem: string, header: ClientMessage["header"] | null, channel: Channel | null) => {
    if (header) return refuse({ header, channel: channelFor(channel, header.msg_type) }, "bad_request", problem);
    say("iopub", "error", { ...errorFields("bad_request", problem) }, {});
  };

  // Frames are handled as they come (none waits for a parser), so a cut leaves nothing queued to stop.
  const input = rateLimitedInput(socket, context.allowance, log, { session_id: session.id, tenant: identity.tenant }, () => {});
  const receive = (data: RawData, isBinary: boolean) => {
    if (!input.receive(data)) return;
    metrics.frame(JUPYTER_FRAME_TYPE, "in");
    const decoded = decode(bytesOf(data), isBinary, framing);
    if (!decoded.ok) return unreadable(decoded.problem, decoded.header, decoded.channel);
    // Returned: an introspection's answer comes later, and its failure is the boundary's to catch.
    return handle(decoded.message);
  };
  socket.on("message", guard(context, "frame", receive, () => say("iopub", "error", { ...errorFields("internal", INTERNAL) }, {})));

  const expiry = tokenExpiry(socket, context.clock, context);
  whileOpen(socket, metrics, () => {
    expiry.clear();
    outbound.close();
    session.detach(attachment);
  });
  expiry.arm(identity.expiresAt);
  // A Jupyter client asks for nothing to be replayed: it starts from what the kernel says now.
  session.attach(attachment, null);
}

function bytesOf(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
