// One session: a persistent interpreter, the cells queued for it, the frames it has published,
// and the connections attached to it. Connections come and go; the session lives on until it
// is closed or evicted.
import type {
  AddContextFrame,
  AddHistoryFrame,
  AuthFrame,
  ClientFrame,
  ErrorCode,
  ErrorFrame,
  EvictedFrame,
  EvictionReason,
  ResultFrame,
  ServerFrame,
  SessionLimits,
  SessionSummary,
  StreamFrame,
} from "../../protocol/index.ts";
import { constants } from "node:buffer";
import { CLOSE, jsonDepthProblem } from "../../protocol/index.ts";
import type { Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
import { codeFields, type Logger } from "../log.ts";
import type { CellOutcome, Metrics } from "../metrics.ts";
import type { LlmGateway } from "../llm/gateway.ts";
import type { ContextKind } from "../sandbox/ipc.ts";
import type { Interpreter } from "../sandbox/interpreter.ts";
import { PoolTimeout } from "../sandbox/pool.ts";
import { resultWithoutRun, type CellResult } from "../sandbox/sandbox.ts";
import { QuotaExceeded } from "../tenancy/quotas.ts";
import type { BufferBudget, SessionBuffers } from "./buffers.ts";
import { SessionHistory } from "./history.ts";

/** One client connection as a session sees it. */
export interface Attachment {
  send(frame: string): void;
  close(code: number, reason: string): void;
}

export interface SessionSettings {
  limits: SessionLimits;
  /** LOG_CODE: cell_finished carries the code (capped). */
  logCode: boolean;
  /** The server's buffer budget; each session takes its share from it. */
  buffers: BufferBudget;
  /** UPLOAD_IDLE_TIMEOUT in ms: an unfinished upload without a new chunk this long is dropped. */
  uploadIdleMs: number;
}

/** How work handed to run() ended: its result, or the error that refused it. */
export type Outcome = { result: CellResult } | { error: { code: ErrorCode; message: string } };

/** Admits cells to run against a quota shared with other sessions (the tenant's). */
export interface CellGate {
  /** Throws QuotaExceeded, whose message names the limit, when the cell may not start now. */
  start(): void;
  finish(): void;
}

type Operation =
  | { kind: "execute"; id: string; code: string; timeoutMs: number; locals: "all" | "changed" | "none" }
  | { kind: "set_vars"; id: string; vars: Record<string, unknown> }
  | { kind: "add_context"; id: string; target: ContextKind; index: number | null; text: string; json: boolean; arrivedAt: number }
  | { kind: "reset"; id: string };

/** A payload arriving in chunks (add_context with `more`), kept until its last chunk. */
interface Upload {
  /** The first chunk's id: told when the upload is dropped for want of chunks. */
  id: string;
  /** performance.now() when its first chunk arrived. */
  arrivedAt: number;
  index: number | null;
  json: boolean;
  parts: string[];
  length: number;
  /** Drops the upload when no chunk follows within uploadIdleMs (an abandoned upload). */
  idle?: NodeJS.Timeout;
}

/** What a session is made of, besides its identity. */
export interface SessionParts {
  interpreter: Interpreter;
  gate: CellGate;
  /** Answers the llm_query calls of its cells. */
  llm: LlmGateway;
  settings: SessionSettings;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  onEnded: (session: Session, reason: EvictionReason) => void;
  /** For a session taken over from the store: when it began and how many cells it ran. */
  earlier?: { createdAt: number; lastActiveAt: number; cellCount: number };
  /** Set when the session was restored from a checkpoint after its server died: its execution count. */
  restoredFromCheckpoint?: number | null;
}

/** Frames that belong to the session's history: they get a seq and are replayed. */
type Published = Omit<StreamFrame, "seq"> | Omit<ResultFrame, "seq"> | Omit<ErrorFrame, "seq"> | Omit<EvictedFrame, "seq">;


export class Session {
  readonly createdAt: number;
  private lastActive: number;
  private readonly history: SessionHistory;
  private readonly connections = new Set<Attachment>();
  private readonly queue: Operation[] = [];
  private running: Operation | null = null;
  private ended: EvictionReason | null = null;
  private generatedIds = 0;
  /** Callers of run() waiting for their work, by operation id. */
  private readonly outcomes = new Map<string, (outcome: Outcome) => void>();
  /** When each queued operation was queued (performance.now()), for the queue wait. */
  private readonly queuedAt = new Map<string, number>();
  private readonly uploads = new Map<ContextKind, Upload>();
  /** What its uploads, queued work, connections and replay buffer hold, against its budget. */
  readonly buffers: SessionBuffers;
  /** The bytes each queued or running operation holds (its code, payload or variables). */
  private readonly held = new Map<Operation, number>();
  private readonly interpreter: Interpreter;
  private readonly gate: CellGate;
  private readonly llm: LlmGateway;
  private readonly settings: SessionSettings;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly onEnded: SessionParts["onEnded"];
  /** Told on attach until the session runs something: it came back from a checkpoint at this execution count. */
  private restoredFromCheckpoint: number | null;
  /** Its server is draining: no new work starts here (see drain). */
  private draining = false;
  /** A snapshot (checkpoint or hibernation) in progress: work waits for it. */
  private snapshotting: Promise<unknown> | null = null;
  private idleWaiters: Array<() => void> = [];
  cellCount = 0;
  /** Python's execution count after the last cell. */
  executionCount = 0;

  constructor(
    readonly id: string,
    readonly owner: Pick<Identity, "tenant" | "user">,
    { interpreter, gate, llm, settings, clock, log, metrics, onEnded, earlier, restoredFromCheckpoint }: SessionParts,
  ) {
    this.restoredFromCheckpoint = restoredFromCheckpoint ?? null;
    this.executionCount = restoredFromCheckpoint ?? 0;
    this.interpreter = interpreter;
    this.gate = gate;
    this.llm = llm;
    this.settings = settings;
    this.clock = clock;
    this.log = log;
    this.metrics = metrics;
    this.onEnded = onEnded;
    this.createdAt = earlier?.createdAt ?? clock.now();
    this.lastActive = earlier?.lastActiveAt ?? this.createdAt;
    this.cellCount = earlier?.cellCount ?? 0;
    this.history = new SessionHistory(settings.limits.replay_buffer_bytes);
    this.buffers = settings.buffers.session();
  }

  get lastActiveAt(): number {
    return this.lastActive;
  }

  get hibernated(): boolean {
    return this.interpreter.hibernated;
  }

  /** Its interpreter holds nothing yet: there is nothing to save for it to move. */
  get empty(): boolean {
    return this.interpreter.empty;
  }

  /**
   * Hibernates the interpreter when the session has no work (see Interpreter.hibernate); false
   * when it had work. Attached clients stay attached; their next cell wakes it.
   */
  async hibernate(persist: Parameters<Interpreter["hibernate"]>[0]): Promise<boolean> {
    if (this.ended || this.idleSince() === null || this.hibernated) return false;
    await this.whileSnapshotting(this.interpreter.hibernate(persist));
    return true;
  }

  /**
   * A snapshot of the live interpreter, which keeps running (a checkpoint); null when the
   * session has work or no live interpreter.
   */
  async checkpoint(): Promise<Uint8Array | null> {
    if (this.ended || this.idleSince() === null || this.hibernated || this.snapshotting) return null;
    return this.whileSnapshotting(this.interpreter.snapshot());
  }

  /**
   * Its server is leaving: work not yet started is refused with server_draining (the SDK sends
   * it again once it reaches the session elsewhere), and so is anything new. A running cell goes on.
   */
  drain(): void {
    this.draining = true;
    for (const operation of this.queue.splice(0)) {
      this.letGo(operation);
      this.refuseDraining(operation);
    }
    this.queuedAt.clear();
  }

  /** Resolves once no cell runs. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Interrupts the running cell, if any (a drain that ran out of time). */
  interruptRunning(): void {
    if (this.running) this.interpreter.interrupt();
  }

  /**
   * Lets go of a hibernated session without ending it (this server shuts down; another wakes
   * it): clients are told it moves, and the SDK reconnects to it through another server.
   */
  release(): void {
    if (this.ended) return;
    this.ended = "shutdown";
    this.publish({ type: "evicted", reason: "shutdown", resumable: true });
    for (const connection of this.connections) connection.close(CLOSE.restarting, "session moved");
    this.connections.clear();
    this.dropBuffers();
  }

  private async whileSnapshotting<T>(work: Promise<T>): Promise<T> {
    this.snapshotting = work;
    try {
      return await work;
    } finally {
      this.snapshotting = null;
    }
  }

  get attached(): number {
    return this.connections.size;
  }

  get endedBy(): EvictionReason | null {
    return this.ended;
  }

  /** When the session became idle, or null while it has work (a running cell is never idle). */
  idleSince(): number | null {
    return this.running || this.queue.length > 0 ? null : this.lastActive;
  }

  /** Sends the `session` frame, then what the connection missed after `since` (when given). */
  attach(connection: Attachment, resumed: boolean, since: number | null): void {
    this.connections.add(connection);
    send(connection, {
      type: "session",
      session_id: this.id,
      resumed,
      last_seq: this.history.lastSeq,
      limits: this.settings.limits,
      ...(this.restoredFromCheckpoint !== null && { restored_from_checkpoint: { execution_count: this.restoredFromCheckpoint } }),
    });
    if (since === null) return;
    if (since > this.history.lastSeq) {
      // The client saw frames this server never sent: the session moved here (woken from the
      // store) and its history started again.
      send(connection, {
        type: "error",
        code: "replay_gap",
        message: `the session's history restarted at seq ${this.history.lastSeq} (it was woken on another server); frames after ${since} from before are gone`,
      });
      return;
    }
    const replay = this.history.since(since);
    if (replay.missing) {
      const [from, to] = replay.missing;
      send(connection, {
        type: "error",
        code: "replay_gap",
        message: `frames ${from} to ${to} are no longer buffered (the replay buffer keeps ${this.settings.limits.replay_buffer_bytes} bytes); the frames after them follow`,
      });
    }
    for (const frame of replay.frames) connection.send(frame);
  }

  detach(connection: Attachment): void {
    this.connections.delete(connection);
  }

  /** Metadata for listings: nothing of the code or its output. */
  summary(): SessionSummary {
    return {
      session_id: this.id,
      tenant: this.owner.tenant,
      user: this.owner.user,
      created_at: new Date(this.createdAt).toISOString(),
      last_active_at: new Date(this.lastActive).toISOString(),
      cell_count: this.cellCount,
      running: this.running !== null,
      attached_clients: this.connections.size,
    };
  }

  /**
   * Runs code as a cell, after making `vars` Python variables, for callers without a socket (the
   * HTTP API); its frames reach attached clients as any cell's do. Resolves with the result, or
   * with the error that refused the work (busy, quota_exceeded, ...).
   */
  async run(code: string, timeoutSeconds: number | undefined, vars: Record<string, unknown>): Promise<Outcome> {
    this.lastActive = this.clock.now();
    if (Object.keys(vars).length > 0) {
      const assigned = await this.outcomeOf({ kind: "set_vars", id: this.generatedId("set_vars"), vars });
      if (!("result" in assigned) || !assigned.result.success) return assigned;
    }
    const { limits } = this.settings;
    const seconds = Math.min(timeoutSeconds ?? limits.execution_timeout, limits.max_execution_timeout);
    return this.outcomeOf({ kind: "execute", id: this.generatedId("http"), code, timeoutMs: seconds * 1000, locals: "all" });
  }

  /** Handles one valid frame from a client (connection-level frames are handled before this). */
  /** `receivedAt` (performance.now()): when the whole frame had arrived, before it was parsed. */
  receive(frame: Exclude<ClientFrame, AuthFrame>, from: Attachment, receivedAt = performance.now()): void {
    if (this.ended) return;
    if (frame.type === "ping") return send(from, { type: "pong", ...(frame.id !== undefined && { id: frame.id }) });
    this.lastActive = this.clock.now();
    switch (frame.type) {
      case "execute": {
        const { limits } = this.settings;
        const seconds = Math.min(frame.timeout ?? limits.execution_timeout, limits.max_execution_timeout);
        return this.enqueue({ kind: "execute", id: frame.id, code: frame.code, timeoutMs: seconds * 1000, locals: frame.locals ?? "all" });
      }
      case "set_vars":
        return this.enqueue({ kind: "set_vars", id: frame.id ?? this.generatedId("set_vars"), vars: frame.vars });
      case "add_context":
      case "add_history":
        return this.receivePayload(frame, receivedAt);
      case "reset":
        return this.enqueue({ kind: "reset", id: frame.id ?? this.generatedId("reset") });
      case "interrupt":
        return this.interrupt(frame.id, from);
      case "close":
        void this.end("closed");
    }
  }

  /** Ends the session: attached clients get `evicted {reason}` and are disconnected. */
  async end(reason: EvictionReason): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    for (const operation of this.queue) if (operation.kind === "execute") this.countCell("cancelled");
    this.queue.length = 0;
    this.queuedAt.clear();
    for (const id of [...this.outcomes.keys()]) this.settle(id, { error: { code: "session_expired", message: `the session ended (${reason})` } });
    this.interpreter.interrupt();
    this.publish({ type: "evicted", reason });
    const code = reason === "shutdown" ? CLOSE.restarting : CLOSE.normal;
    for (const connection of this.connections) connection.close(code, `session ${reason}`);
    this.connections.clear();
    this.dropBuffers();
    this.onEnded(this, reason);
    await this.interpreter.close();
  }

  private outcomeOf(operation: Operation): Promise<Outcome> {
    return new Promise((resolve) => {
      this.outcomes.set(operation.id, resolve);
      this.enqueue(operation);
    });
  }

  private generatedId(kind: string): string {
    return `${kind}-${++this.generatedIds}`;
  }

  private enqueue(operation: Operation): void {
    if (this.draining) return this.refuseDraining(operation);
    if (this.running?.id === operation.id || this.queue.some((queued) => queued.id === operation.id)) {
      return this.refuse(operation, "bad_request", `a cell with id "${operation.id}" is already queued or running; use a new id`);
    }
    const { max_queued_cells: max } = this.settings.limits;
    if (this.queue.length >= max) {
      return this.refuse(operation, "busy", `the session already has ${max} cells queued (MAX_QUEUED_CELLS); wait for a result or interrupt`);
    }
    const bytes = operationBytes(operation);
    const refusal = this.buffers.reserve("queued", bytes, `this ${operation.kind}`);
    if (refusal) return this.refuse(operation, refusal.code, refusal.message);
    this.held.set(operation, bytes);
    this.queue.push(operation);
    this.queuedAt.set(operation.id, performance.now());
    void this.runNext();
  }

  /** A chunk, or a whole payload: queued as an add_context once complete. */
  private receivePayload(frame: AddContextFrame | AddHistoryFrame, receivedAt: number): void {
    const target: ContextKind = frame.type === "add_context" ? "context" : "history";
    const id = frame.id ?? this.generatedId(frame.type);
    // A frame with neither `more` nor `offset` is a whole payload; an unfinished upload (its
    // client gave up on it) must not swallow it.
    if (!frame.more && frame.offset === undefined) {
      this.dropUpload(target);
      const text = typeof frame.payload === "string" ? frame.payload : JSON.stringify(frame.payload);
      const json = frame.json === true || typeof frame.payload !== "string";
      return this.enqueue({ kind: "add_context", id, target, index: frame.index ?? null, text, json, arrivedAt: receivedAt });
    }
    if (typeof frame.payload !== "string") {
      this.dropUpload(target);
      return this.fail(id, "bad_request", `${frame.type}: a chunk must be a string; the upload in progress was dropped`);
    }
    let current = this.uploads.get(target);
    if (!current) {
      current = { id, arrivedAt: receivedAt, index: frame.index ?? null, json: frame.json === true, parts: [], length: 0 };
      this.uploads.set(target, current);
    }
    if (frame.offset !== undefined && frame.offset !== current.length) {
      const expected = current.length;
      this.dropUpload(target);
      return this.fail(id, "bad_request", `${frame.type}: a chunk at offset ${frame.offset} arrived where ${expected} was expected (a chunk was lost); the upload was dropped, send it again`);
    }
    const refusal = this.buffers.reserve("upload", frame.payload.length, `${frame.type}: the upload`);
    if (refusal) {
      this.dropUpload(target);
      return this.fail(id, refusal.code, `${refusal.message}; the upload was dropped`);
    }
    current.parts.push(frame.payload);
    current.length += frame.payload.length;
    const limit = uploadLimit(this.settings.limits.memory_mb);
    if (current.length > limit.characters) {
      this.dropUpload(target);
      return this.fail(id, "too_large", `${frame.type}: the payload is over ${limit.characters} characters, ${limit.name}; the upload was dropped`);
    }
    if (frame.more) return this.awaitChunk(target, current);
    this.dropUpload(target);
    const text = current.parts.join("");
    const deep = current.json && jsonDepthProblem(text);
    if (deep) return this.fail(id, "bad_request", `${frame.type}: the payload is JSON text that ${deep}; the upload was dropped`);
    this.enqueue({ kind: "add_context", id, target, index: current.index, text, json: current.json, arrivedAt: current.arrivedAt });
  }

  /** Keeps an unfinished upload for its next chunk, UPLOAD_IDLE_TIMEOUT at most: its client may be gone for good. */
  private awaitChunk(target: ContextKind, upload: Upload): void {
    clearTimeout(upload.idle);
    upload.idle = setTimeout(() => {
      this.dropUpload(target);
      this.log.info("upload_dropped", { session_id: this.id, tenant: this.owner.tenant, kind: target, chars: upload.length });
      const seconds = this.settings.uploadIdleMs / 1000;
      this.fail(upload.id, "bad_request", `the ${target} upload was dropped after ${seconds} s without a chunk (UPLOAD_IDLE_TIMEOUT); send it again from offset 0`);
    }, this.settings.uploadIdleMs);
    upload.idle.unref();
  }

  /** Forgets the upload in progress, if any, and the bytes it held. */
  private dropUpload(target: ContextKind): void {
    const upload = this.uploads.get(target);
    if (!upload) return;
    clearTimeout(upload.idle);
    this.uploads.delete(target);
    this.buffers.release("upload", upload.length);
  }

  /** Queued or running work is done with: the bytes it held go back to the budget. */
  private letGo(operation: Operation | undefined): void {
    const bytes = operation && this.held.get(operation);
    if (operation === undefined || bytes === undefined) return;
    this.held.delete(operation);
    this.buffers.release("queued", bytes);
  }

  /** The session is over: whatever it held goes back to the server's budget. */
  private dropBuffers(): void {
    for (const upload of this.uploads.values()) clearTimeout(upload.idle);
    this.uploads.clear();
    this.held.clear();
    this.buffers.clear();
  }

  private interrupt(id: string | undefined, from: Attachment): void {
    if (id === undefined || this.running?.id === id) {
      this.interpreter.interrupt();
      return;
    }
    const index = this.queue.findIndex((queued) => queued.id === id);
    if (index === -1) {
      return send(from, { type: "error", id, code: "bad_request", message: `no queued or running cell has id "${id}"` });
    }
    const [cancelled] = this.queue.splice(index, 1);
    this.letGo(cancelled);
    this.queuedAt.delete(id);
    this.countCell("cancelled");
    this.publishResult(id, resultWithoutRun({ type: "CancelledError", message: "the cell was cancelled before it ran", traceback: "" }, true));
  }

  private refuseDraining(operation: Operation): void {
    this.refuse(operation, "server_draining", "this server is shutting down and the session is moving to another; send it again there (the SDK does)");
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    const operation = this.ended ? undefined : this.queue.shift();
    if (!operation) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const queuedAt = this.queuedAt.get(operation.id) ?? performance.now();
    this.queuedAt.delete(operation.id);
    // Only Python code counts as a running cell; set_vars and reset are bookkeeping.
    const gated = operation.kind === "execute";
    try {
      if (gated) this.gate.start();
    } catch (error) {
      if (!(error instanceof QuotaExceeded)) throw error;
      this.letGo(operation);
      this.refuse(operation, "quota_exceeded", error.message);
      return this.runNext();
    }
    if (gated) this.metrics.cellStarted(this.owner.tenant, (performance.now() - queuedAt) / 1000);
    this.running = operation;
    this.restoredFromCheckpoint = null;
    try {
      // A checkpoint being taken holds the sandbox for a moment.
      await this.snapshotting?.catch(() => {});
      await this.perform(operation);
    } catch (error) {
      this.log.error("operation_failed", { session_id: this.id, tenant: this.owner.tenant, cell_id: operation.id, error: (error as Error).message });
      if (error instanceof PoolTimeout) this.refuse(operation, "busy", error.message);
      else this.refuse(operation, "sandbox_failed", `the sandbox could not run this: ${(error as Error).message}; retry, and report it if it persists`);
    } finally {
      if (gated) this.gate.finish();
      this.letGo(operation);
      this.running = null;
      this.lastActive = this.clock.now();
    }
    void this.runNext();
  }

  private async perform(operation: Operation): Promise<void> {
    switch (operation.kind) {
      case "execute": {
        const started = performance.now();
        const result = await this.llm.forCell((llm) =>
          this.interpreter.execute({
            code: operation.code,
            timeoutMs: operation.timeoutMs,
            locals: operation.locals,
            onOutput: (name, text) => this.publish({ type: "stream", id: operation.id, name, text }),
            llm,
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        const outcome = cellOutcome(result);
        this.cellCount++;
        if (result.execution_count > 0) this.executionCount = result.execution_count;
        this.countCell(outcome, seconds);
        this.log.info("cell_finished", {
          session_id: this.id,
          tenant: this.owner.tenant,
          cell_id: operation.id,
          duration_ms: Math.round(seconds * 1000),
          outcome,
          ...codeFields(operation.code, this.settings.logCode),
        });
        return this.publishResult(operation.id, result);
      }
      case "set_vars": {
        const error = await this.interpreter.setVars(operation.vars);
        return this.publishResult(operation.id, resultWithoutRun(error, true));
      }
      case "add_context": {
        const error = await this.interpreter.addContext(operation.target, operation.index, operation.text, operation.json);
        // From the first chunk's arrival until the variable exists: the benchmark reads this.
        const durationMs = Math.round(performance.now() - operation.arrivedAt);
        this.log.info("context_added", { session_id: this.id, tenant: this.owner.tenant, kind: operation.target, chars: operation.text.length, duration_ms: durationMs, ok: error === null });
        return this.publishResult(operation.id, resultWithoutRun(error, true));
      }
      case "reset":
        await this.interpreter.reset();
        return this.publishResult(operation.id, resultWithoutRun(null, false));
    }
  }

  private publishResult(id: string, result: CellResult): void {
    this.publish({ type: "result", id, ...result });
    this.settle(id, { result });
  }

  /** Work that will not run: its error frame, and a refused cell when it was Python code. */
  private refuse(operation: Operation, code: ErrorCode, message: string): void {
    if (operation.kind === "execute") {
      this.countCell("refused");
      this.log.info("cell_refused", { session_id: this.id, tenant: this.owner.tenant, cell_id: operation.id, outcome: "refused", error_code: code });
    }
    this.fail(operation.id, code, message);
  }

  private countCell(outcome: CellOutcome, seconds?: number): void {
    this.metrics.cell(this.owner.tenant, outcome, seconds);
  }

  private fail(id: string, code: ErrorCode, message: string): void {
    this.publish({ type: "error", id, code, message });
    this.settle(id, { error: { code, message } });
  }

  private settle(id: string, outcome: Outcome): void {
    this.outcomes.get(id)?.(outcome);
    this.outcomes.delete(id);
  }

  /** Gives a frame the next seq, keeps it for replay, and sends it to every attached client. */
  private publish(frame: Published): void {
    const seq = this.history.lastSeq + 1;
    const text = JSON.stringify({ ...frame, seq });
    this.history.record(seq, text);
    this.buffers.set("replay", this.history.bytes);
    for (const connection of this.connections) connection.send(text);
  }
}

/** What an operation holds while it waits: its code, its payload, or its variables (as JSON). */
function operationBytes(operation: Operation): number {
  switch (operation.kind) {
    case "execute":
      return operation.code.length;
    case "add_context":
      return operation.text.length;
    case "set_vars":
      return JSON.stringify(operation.vars).length;
    case "reset":
      return 0;
  }
}

function send(connection: Attachment, frame: ServerFrame): void {
  connection.send(JSON.stringify(frame));
}

/** How a cell that ran (or was interrupted before it could) ended. */
export function cellOutcome(result: CellResult): CellOutcome {
  if (result.success) return "ok";
  if (!result.state_preserved) return "killed";
  if (result.error?.type === "TimeoutError") return "timeout";
  // An interrupt from a client (or one that arrived before the cell started).
  return result.error?.type === "KeyboardInterrupt" ? "cancelled" : "error";
}

/**
 * The most characters an upload may join to: the session's memory (SESSION_MEMORY_MB, in
 * characters), but never past the longest string V8 can make, where joining would throw.
 */
function uploadLimit(memoryMb: number): { characters: number; name: string } {
  const memory = memoryMb * 1024 * 1024;
  return memory < constants.MAX_STRING_LENGTH
    ? { characters: memory, name: "the session's memory limit (SESSION_MEMORY_MB)" }
    : { characters: constants.MAX_STRING_LENGTH, name: "the longest string the server can hold" };
}
