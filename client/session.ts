// The TypeScript SDK: a wasm-repl session over a WebSocket that survives dropped connections.
// After a drop it reconnects by itself and asks for every frame after the last seq it saw, so
// no output and no result is lost.
import { EventEmitter } from "node:events";
import WebSocket from "ws";
import {
  PROTOCOL,
  type ClearOutputFrame,
  type ClientFrame,
  type DisplayFrame,
  type EvictionReason,
  type LocalsMode,
  type ResultFrame,
  type ServerFrame,
  type SessionFrame,
  type SessionLimits,
  type ToolCallFrame,
  type ToolSpec,
  toolNameProblem,
  MAX_TOOLS,
  MAX_TOOL_DESCRIPTION,
} from "../protocol/index.ts";
import { errorFromBody, WasmReplError } from "./errors.ts";
import { SessionFiles, type FileListing } from "./files.ts";
import { httpBase, httpRequest } from "./http.ts";

/**
 * A function Python in the session may call (see ReplSession.registerTool): it gets the call's
 * positional arguments, and its keyword arguments as one last object when there are any; what it
 * returns (or resolves with) must be JSON. A throw is a ToolError in Python, with its message.
 */
export type Tool = (...args: any[]) => unknown;
export type ToolDefinition = Tool | { tool: Tool; description?: string };

export interface ConnectOptions {
  token: string;
  /** Tools this client answers, by name: Python calls them as `name(...)` or `tools.name(...)`. */
  tools?: Record<string, ToolDefinition>;
  /** Reconnect after a dropped connection (default true). */
  reconnect?: boolean;
  /** Attempts before giving up (default 10), with delays doubling from 100 ms up to 5 s. */
  maxReconnectAttempts?: number;
}

export interface OpenOptions extends ConnectOptions {
  /**
   * Environment variables for the session's interpreter (os.environ), kept for its whole life;
   * they travel in a request's body (POST /v1/sessions), never in a URL.
   */
  env?: Record<string, string>;
  /** Results' rlm_calls carry each model call's prompt and response text (to build completion records). */
  rlmCallText?: boolean;
}

export interface AttachOptions extends ConnectOptions {
  /** Ask for every frame after this seq. */
  since?: number;
}

export interface ExecuteOptions {
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Rich output the cell displays while it runs (display(), IPython.display), and clear_output. */
  onDisplay?: (frame: DisplayFrame | ClearOutputFrame) => void;
  /** Answers the cell's input() (or getpass(), `password`); without it, such a cell waits until it is interrupted or times out. */
  onInput?: (prompt: string, password: boolean) => string | Promise<string>;
  /** Seconds. */
  timeout?: number;
  locals?: LocalsMode;
  /** Aborting interrupts the cell (or cancels it while queued). */
  signal?: AbortSignal;
  /** The cell's id; one is made up when omitted. */
  id?: string;
}

type CellHandlers = Pick<ExecuteOptions, "onStdout" | "onStderr" | "onDisplay" | "onInput">;

export interface PayloadOptions {
  index?: number;
  /** add_history: `history_<index>` instead of `context_<index>`. */
  history?: boolean;
}

interface Pending extends CellHandlers {
  resolve(result: ResultFrame): void;
  reject(error: Error): void;
  /** The request's frames (several for a chunked payload), to send again if the session moves before it ran. */
  frames: string[];
  /** Whether they were written to a connection (not just queued for the next). */
  sent: boolean;
}

export interface SessionEvents {
  /** A frame of the session, as it arrives (after de-duplication). */
  frame: [ServerFrame];
  reconnecting: [attempt: number];
  reconnected: [];
  /** The session's server is draining: the session moves to another and this client follows. */
  moving: [];
  /** The session's server died; it came back from a checkpoint: work after this execution count is gone. */
  restored: [executionCount: number];
  evicted: [reason: EvictionReason];
  /** The session is gone for this client: evicted, closed, or reconnecting failed. */
  closed: [error: WasmReplError | null];
  /** The server refused the client's close (the token may not end sessions). */
  refused: [error: WasmReplError];
}

let cellCounter = 0;
const CONNECT_TIMEOUT_MS = 15_000;

export class ReplSession extends EventEmitter<SessionEvents> {
  /** The newest seq received; reconnects ask for what follows it. */
  lastSeq = 0;
  id = "";
  limits!: SessionLimits;
  /**
   * The execution count the session came back from at this client's latest connection (its
   * server died: later work is gone), or null. Set before open() or attach() returns, where the
   * "restored" event would come too early for a listener.
   */
  restoredFromCheckpoint: number | null = null;
  private socket: WebSocket | null = null;
  private readonly pending = new Map<string, Pending>();
  /** Frames waiting for a connection, with the request they belong to (none for connection frames). */
  private outbox: { text: string; owner: Pending | null }[] = [];
  /** The session moved (a draining server): the next connection's history starts again, and that is expected. */
  private moved = false;
  /**
   * After a reconnect: the requests written to the dropped connection that the session did not
   * have, ended once this ping's pong shows the replay is through (unless it answered them).
   */
  private unconfirmed: { ping: string; ids: string[] } | null = null;
  /** Why this client is done with the session: undefined while it is not, null for a clean end. */
  private ended: WasmReplError | null | undefined = undefined;
  private closing = false;
  private readonly baseUrl: string;
  private token: string;
  private sessionFiles: SessionFiles | null = null;
  private readonly tools = new Map<string, { tool: Tool; description?: string }>();

  /** Opens a new session. */
  static async open(url: string, options: OpenOptions): Promise<ReplSession> {
    const session = new ReplSession(url, options);
    if (options.env || options.rlmCallText) {
      // Opened over HTTP, then attached: the variables stay out of the WebSocket's URL.
      const body = JSON.stringify({ ...(options.env && { env: options.env }), ...(options.rlmCallText && { rlm_call_text: true }) });
      const opened = await httpRequest(`${httpBase(url)}/v1/sessions`, { method: "POST", token: options.token, body, contentType: "application/json" });
      session.id = ((await opened.json()) as { session_id: string }).session_id;
    }
    await session.connect(null);
    return session;
  }

  /** Attaches to an existing session of the caller's. */
  static async attach(url: string, sessionId: string, options: AttachOptions): Promise<ReplSession> {
    const session = new ReplSession(url, options);
    session.id = sessionId;
    session.lastSeq = options.since ?? 0;
    await session.connect(options.since ?? null);
    return session;
  }

  private constructor(
    url: string,
    private readonly options: ConnectOptions,
  ) {
    super();
    this.baseUrl = url.replace(/^http/, "ws").replace(/\/+$/, "");
    this.token = options.token;
    for (const [name, definition] of Object.entries(options.tools ?? {})) this.addTool(name, typeof definition === "function" ? { tool: definition } : definition);
  }

  private addTool(name: string, entry: { tool: Tool; description?: string }): void {
    const problem = toolNameProblem(name);
    if (problem) throw new WasmReplError("bad_request", `a tool's name ${problem}; got ${JSON.stringify(name)}`);
    if ((entry.description?.length ?? 0) > MAX_TOOL_DESCRIPTION) throw new WasmReplError("bad_request", `tool ${name}'s description is over ${MAX_TOOL_DESCRIPTION} characters`);
    if (!this.tools.has(name) && this.tools.size >= MAX_TOOLS) throw new WasmReplError("bad_request", `a session takes at most ${MAX_TOOLS} tools`);
    this.tools.set(name, entry);
  }

  /** Runs code; resolves with the result frame whether the Python succeeded or not. */
  execute(code: string, options: ExecuteOptions = {}): Promise<ResultFrame> {
    const id = options.id ?? `cell-${Date.now().toString(36)}-${++cellCounter}`;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new WasmReplError("bad_request", "the execution was aborted before it started"));
    const onAbort = () => this.interrupt(id);
    signal?.addEventListener("abort", onAbort, { once: true });
    return this.request(
      id,
      { type: "execute", id, code, ...(options.timeout !== undefined && { timeout: options.timeout }), ...(options.locals && { locals: options.locals }) },
      options,
    ).finally(() => signal?.removeEventListener("abort", onAbort));
  }

  /**
   * Interrupts the running cell, or cancels a queued one by id. Without an id it is not held
   * for a reconnect: by then a different cell may be running.
   */
  interrupt(id?: string): void {
    if (id === undefined && this.socket?.readyState !== WebSocket.OPEN) return;
    this.send({ type: "interrupt", ...(id !== undefined && { id }) });
  }

  /** Makes JSON values Python variables. */
  setVars(vars: Record<string, unknown>): Promise<ResultFrame> {
    const id = `vars-${++cellCounter}`;
    return this.request(id, { type: "set_vars", id, vars });
  }

  /**
   * Makes `tool` callable from Python as `name(...)` and `tools.name(...)`: the cell waits while
   * it runs here. Every connection of this client declares its tools again (a session that moved
   * knows them from its snapshot only), so they last as long as this client.
   */
  registerTool(name: string, tool: Tool, options: { description?: string } = {}): Promise<ResultFrame> {
    try {
      this.addTool(name, { tool, ...options });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.declareTools();
  }

  /** Python can no longer call the tool `name`. */
  unregisterTool(name: string): Promise<ResultFrame> {
    this.tools.delete(name);
    return this.declareTools();
  }

  /** Tells the session which tools this client answers; the result says if it refused them (a reserved name, ...). */
  private declareTools(): Promise<ResultFrame> {
    const id = `tools-${++cellCounter}`;
    return this.request(id, { type: "set_tools", id, tools: this.toolSpecs() });
  }

  private toolSpecs(): ToolSpec[] {
    return [...this.tools].map(([name, { description }]) => ({ name, ...(description !== undefined && { description }) }));
  }

  /** Runs a tool Python called and sends its value or error; a call of a tool this client lacks is left to the client that has it. */
  private async answerTool(frame: ToolCallFrame): Promise<void> {
    const entry = this.tools.get(frame.name);
    if (!entry) return;
    let answer: { value: unknown } | { error: string };
    try {
      const args = Object.keys(frame.kwargs).length > 0 ? [...frame.args, frame.kwargs] : frame.args;
      answer = { value: (await entry.tool(...args)) ?? null };
    } catch (error) {
      answer = { error: error instanceof Error ? error.message : String(error) };
    }
    let text: string;
    try {
      text = JSON.stringify({ type: "tool_result", call_id: frame.call_id, ...answer });
    } catch (error) {
      text = JSON.stringify({ type: "tool_result", call_id: frame.call_id, error: `the tool's value is not JSON: ${(error as Error).message}` });
    }
    if (Buffer.byteLength(text) > this.limits.max_frame_bytes) {
      text = JSON.stringify({ type: "tool_result", call_id: frame.call_id, error: `the tool's value is over the session's ${this.limits.max_frame_bytes}-byte frame limit` });
    }
    this.sendText(text);
  }

  /**
   * Installs a pure-Python wheel (`...-none-any.whl`) into the session: later cells import its
   * modules, and it stays installed across hibernation. The result's error says why one was refused.
   */
  install(wheel: Uint8Array, filename: string): Promise<ResultFrame> {
    const id = `install-${++cellCounter}`;
    return this.request(id, { type: "install", id, filename, wheel: Buffer.from(wheel).toString("base64") });
  }

  /**
   * Makes a payload the Python variable `context_<index>` (with `history`: `history_<index>`),
   * `context` naming index 0; the index defaults to the next free one. A string stays a str;
   * anything else arrives as the JSON value. Payloads too large for one frame go in chunks.
   */
  addContext(payload: unknown, options: PayloadOptions = {}): Promise<ResultFrame> {
    const type = options.history ? "add_history" : "add_context";
    const id = `${type}-${++cellCounter}`;
    const index = options.index !== undefined ? { index: options.index } : {};
    // One frame when it fits: fewer frames to parse, and the payload arrives at once.
    const whole = JSON.stringify({ type, id, payload, ...index });
    if (Buffer.byteLength(whole) <= this.limits.max_frame_bytes) return this.requestEncoded(id, [whole]);
    const text = typeof payload === "string" ? payload : JSON.stringify(payload);
    const chunk = chunkLength(this.limits.max_frame_bytes);
    const json = typeof payload === "string" ? {} : { json: true };
    const frames: ClientFrame[] = [];
    for (let offset = 0; offset < text.length; offset += chunk) {
      const more = offset + chunk < text.length ? { more: true } : {};
      frames.push({ type, id, payload: text.slice(offset, offset + chunk), offset, ...more, ...json, ...index });
    }
    return this.request(id, frames);
  }

  /** A fresh interpreter: every variable is dropped. */
  reset(): Promise<ResultFrame> {
    const id = `reset-${++cellCounter}`;
    return this.request(id, { type: "reset", id });
  }

  /**
   * Hands the server a fresh token before the current one expires (the server closes a
   * connection at its token's expiry, code 4001). Reconnects use it too.
   */
  refreshToken(token: string): Promise<void> {
    this.token = token;
    return new Promise((resolve, reject) => {
      const settle = (frame: ServerFrame) => {
        if (frame.type !== "authenticated" && !(frame.type === "error" && frame.id === undefined && (frame.code === "unauthorized" || frame.code === "forbidden"))) return;
        this.off("frame", settle);
        if (frame.type === "authenticated") resolve();
        else reject(new WasmReplError(frame.code, frame.message));
      };
      this.on("frame", settle);
      this.send({ type: "auth", token });
    });
  }

  /** Writes a file into the session's working directory (/home/pyodide), where Python opens it; text as UTF-8. */
  uploadFile(path: string, content: Uint8Array | string): Promise<void> {
    return this.files.upload(path, content);
  }

  /** Reads a file of the session's working directory, such as one its Python wrote. */
  downloadFile(path: string): Promise<Uint8Array> {
    return this.files.download(path);
  }

  /** The files of the session's working directory, with their sizes. */
  listFiles(): Promise<FileListing> {
    return this.files.list();
  }

  deleteFile(path: string): Promise<void> {
    return this.files.delete(path);
  }

  /** Ends the session on the server. */
  async close(): Promise<void> {
    if (this.ended !== undefined) return;
    this.closing = true;
    const closed = new Promise<void>((resolve, reject) => {
      this.once("closed", () => resolve());
      this.once("refused", (error) => ((this.closing = false), reject(error)));
    });
    this.send({ type: "close" });
    await closed;
  }

  /** Drops this client's connection without ending the session (it can be attached again). */
  disconnect(): void {
    this.finish(null);
  }

  private get files(): SessionFiles {
    this.sessionFiles ??= new SessionFiles(this.baseUrl, this.id, () => this.token);
    return this.sessionFiles;
  }

  /** For tests and tools: the underlying socket, to simulate network trouble. */
  get connection(): WebSocket | null {
    return this.socket;
  }

  private request(id: string, frame: ClientFrame | ClientFrame[], handlers: CellHandlers = {}): Promise<ResultFrame> {
    return this.requestEncoded(id, (Array.isArray(frame) ? frame : [frame]).map((item) => JSON.stringify(item)), handlers);
  }

  /** A request whose frames are already JSON text. */
  private requestEncoded(id: string, frames: string[], handlers: CellHandlers = {}): Promise<ResultFrame> {
    if (this.ended !== undefined) return Promise.reject(this.ended ?? new WasmReplError("session_expired", "this client has disconnected from the session"));
    if (this.pending.has(id)) return Promise.reject(new WasmReplError("bad_request", `a cell with id "${id}" is already pending; use a new id`));
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, ...handlers, frames, sent: false };
      this.pending.set(id, pending);
      this.transmit(pending);
    });
  }

  private send(frame: ClientFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  private sendText(text: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(text);
    else if (this.ended === undefined) this.outbox.push({ text, owner: null }); // sent once reconnected
  }

  /** Writes a request's frames now, or queues them for the next connection. */
  private transmit(pending: Pending): void {
    const socket = this.socket?.readyState === WebSocket.OPEN ? this.socket : null;
    pending.sent = socket !== null;
    for (const text of pending.frames) {
      if (socket) socket.send(text);
      else this.outbox.push({ text, owner: pending });
    }
  }

  /** The server did not run the request (it was draining): it goes again once the session is reached elsewhere. */
  private sendAgainLater(pending: Pending): void {
    if (!pending.sent) return;
    pending.sent = false;
    for (const text of pending.frames) this.outbox.push({ text, owner: pending });
  }

  private url(since: number | null): string {
    const path = this.id ? `/v1/sessions/${encodeURIComponent(this.id)}` : "/v1/sessions";
    return `${this.baseUrl}${path}${since !== null ? `?since=${since}` : ""}`;
  }

  /** One connection attempt; resolves once the `session` frame has arrived. */
  private connect(since: number | null): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url(since), [PROTOCOL], {
        headers: { authorization: `Bearer ${this.token}` },
        maxPayload: 1024 * 1024 * 1024,
      });
      let opened = false;
      socket.on("unexpected-response", (_request, response) => {
        // The refusal's connection is ours to close (ws leaves it to this handler): left open (a
        // proxy keeps it alive), a reset of it later would be an error no one listens for.
        const connection = response.socket;
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          connection.destroy();
          reject(errorFromBody(response.statusCode ?? 0, body));
        });
      });
      socket.on("error", (error) => {
        if (!opened) reject(new WasmReplError("internal", `cannot connect to ${this.baseUrl}: ${error.message}`));
      });
      socket.on("message", (data) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(data.toString()) as ServerFrame;
        } catch {
          return; // not a frame of this protocol; nothing to act on
        }
        if (frame.type === "session") {
          opened = true;
          clearTimeout(timer);
          this.socket = socket;
          this.welcome(frame, since);
          resolve();
          return;
        }
        this.receive(frame);
      });
      const timer = setTimeout(() => socket.terminate(), CONNECT_TIMEOUT_MS);
      socket.on("close", (code, reason) => {
        clearTimeout(timer);
        if (!opened) reject(new WasmReplError("internal", `the connection closed before the session answered (${code} ${reason})`));
        if (this.socket !== socket) return;
        this.socket = null;
        if (this.ended === undefined) void this.reconnect(code, reason.toString());
      });
    });
  }

  private welcome(frame: SessionFrame, since: number | null): void {
    this.id = frame.session_id;
    this.limits = frame.limits;
    // Without `since` nothing is replayed: the history starts now for this client. A server
    // whose history is behind `since` restarted it (the session moved): follow it.
    if (since === null || frame.last_seq < since) this.lastSeq = frame.last_seq;
    this.restoredFromCheckpoint = frame.restored_from_checkpoint?.execution_count ?? null;
    if (frame.restored_from_checkpoint) this.emit("restored", frame.restored_from_checkpoint.execution_count);
    // First, so that the cells below find them; its result answers no request of the caller's.
    if (this.tools.size > 0) this.socket!.send(JSON.stringify({ type: "set_tools", id: `tools-${++cellCounter}`, tools: this.toolSpecs() }));
    // A request written to the connection that dropped may never have reached the session. One it
    // neither has nor answers in the replay (which comes before the pong) was lost, or is still on
    // its way (through a server that forwarded the connection): sent again it could run twice, so
    // it ends in replay_gap, its outcome unknown, rather than waiting for ever. (A server too old
    // to say what it has: nothing is known.)
    this.unconfirmed = null;
    if (since !== null && frame.work_ids) {
      const ids = [...this.pending].filter(([id, pending]) => pending.sent && !frame.work_ids.includes(id)).map(([id]) => id);
      if (ids.length > 0) {
        this.unconfirmed = { ping: `resend-${++cellCounter}`, ids };
        this.socket!.send(JSON.stringify({ type: "ping", id: this.unconfirmed.ping }));
      }
    }
    const queued = this.outbox;
    this.outbox = [];
    for (const { text, owner } of queued) {
      this.socket!.send(text);
      if (owner) owner.sent = true;
    }
  }

  private receive(frame: ServerFrame): void {
    if ("seq" in frame && frame.seq !== undefined) {
      if (frame.seq <= this.lastSeq) return; // already seen before a reconnect
      this.lastSeq = frame.seq;
    }
    this.emit("frame", frame);
    switch (frame.type) {
      case "stream": {
        const pending = this.pending.get(frame.id);
        (frame.name === "stdout" ? pending?.onStdout : pending?.onStderr)?.(frame.text);
        return;
      }
      case "display":
      case "clear_output":
        return this.pending.get(frame.id)?.onDisplay?.(frame);
      case "input_request": {
        const onInput = this.pending.get(frame.id)?.onInput;
        if (!onInput) return;
        void Promise.resolve()
          .then(() => onInput(frame.prompt, frame.password))
          .then(
            (value) => this.send({ type: "input_reply", id: frame.id, value }),
            // A callback that fails answers nothing: the cell goes on waiting, as with no callback.
            () => {},
          );
        return;
      }
      case "tool_call":
        return void this.answerTool(frame);
      case "pong": {
        if (!this.unconfirmed || frame.id !== this.unconfirmed.ping) return;
        const { ids } = this.unconfirmed;
        this.unconfirmed = null;
        for (const id of ids) {
          const pending = this.pending.get(id);
          if (!pending) continue;
          this.pending.delete(id);
          pending.reject(new WasmReplError("replay_gap", `the connection dropped before the session confirmed request ${id}: it was lost, or may still arrive and run; send it again with a new id if it should run`));
        }
        return;
      }
      case "result": {
        const pending = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        pending?.resolve(frame);
        return;
      }
      case "error": {
        if (frame.code === "replay_gap") {
          // After a move the history starts again by design: nothing pending was lost (see evicted).
          if (this.moved) return void (this.moved = false);
          return this.lostFrames(frame.message);
        }
        const pending = frame.id !== undefined ? this.pending.get(frame.id) : undefined;
        if (pending && frame.code === "server_draining") return this.sendAgainLater(pending);
        if (pending) {
          this.pending.delete(frame.id!);
          pending.reject(new WasmReplError(frame.code, frame.message));
        } else if (this.closing && frame.code === "forbidden") {
          this.emit("refused", new WasmReplError(frame.code, frame.message));
        }
        return;
      }
      case "evicted":
        // The client's own close ends the session without an error.
        if (this.closing && frame.reason === "closed") return this.finish(null);
        if (frame.resumable) {
          // Every request the draining server received was answered before this frame (a result,
          // or server_draining): whatever is still pending never reached it, and goes again.
          this.moved = true;
          for (const pending of this.pending.values()) this.sendAgainLater(pending);
          this.emit("moving");
          return;
        }
        this.emit("evicted", frame.reason);
        this.finish(new WasmReplError("session_expired", `the session was evicted (${frame.reason})`));
        return;
    }
  }

  /** Frames were lost while disconnected: a pending request's result may be among them. */
  private lostFrames(message: string): void {
    for (const pending of this.pending.values()) pending.reject(new WasmReplError("replay_gap", message));
    this.pending.clear();
  }

  private async reconnect(code: number, reason: string): Promise<void> {
    const attempts = this.options.maxReconnectAttempts ?? 10;
    if (this.options.reconnect === false) {
      return this.finish(new WasmReplError("internal", `the connection closed (${code} ${reason})`));
    }
    for (let attempt = 1; attempt <= attempts && this.ended === undefined; attempt++) {
      this.emit("reconnecting", attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** (attempt - 1))));
      try {
        await this.connect(this.lastSeq);
        this.emit("reconnected");
        return;
      } catch (error) {
        // The session itself is gone: retrying cannot help.
        if (error instanceof WasmReplError && ["session_expired", "session_lost", "session_not_found", "unauthorized", "forbidden"].includes(error.code)) {
          return this.finish(error);
        }
      }
    }
    this.finish(new WasmReplError("internal", `could not reconnect after ${attempts} attempts (the connection closed with ${code} ${reason})`));
  }

  private finish(error: WasmReplError | null): void {
    if (this.ended !== undefined) return;
    this.ended = error;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    const reason = error ?? new WasmReplError("session_expired", "this client disconnected from the session");
    for (const pending of this.pending.values()) pending.reject(reason);
    this.pending.clear();
    this.emit("closed", error);
  }
}

/** Characters per chunk such that a chunk's frame stays under the limit whatever it escapes (up to 6 bytes a character). */
function chunkLength(maxFrameBytes: number): number {
  return Math.max(1024, Math.min(8 * 1024 * 1024, Math.floor((maxFrameBytes - 1024) / 6)));
}

