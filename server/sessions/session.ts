// One session: a persistent interpreter, the work queued for it, the events it has recorded,
// and the doors attached to it. Doors come and go; the session lives on until it is closed or
// evicted. It speaks typed events (events.ts): each door serialises them in its own format.
import type { EvictionReason, LocalsMode, SessionLimits, SessionSummary, ToolSpec } from "../../protocol/index.ts";
import type { Identity } from "../auth/identity.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { SessionMetrics } from "./session-metrics.ts";
import type { LlmGateway } from "../llm/gateway.ts";
import type { ContextKind, ToolAnswer } from "../sandbox/ipc.ts";
import type { Interpreter } from "../sandbox/interpreter.ts";
import { resultWithoutRun, type CellResult, type DisplayMessage, type IntrospectReply, type IntrospectRequest } from "../sandbox/sandbox.ts";
import type { CellGate } from "../tenancy/quotas.ts";
import type { BufferBudget, SessionBuffers } from "./buffers.ts";
import { cellTimeoutMs, refusalFor, refuseCell, runCell, type CellParts, type CellRunner, type Outcome, type Refusal } from "./cell.ts";
import type { RecordedEvent, SessionEvent, Unnumbered, WorkKind } from "./events.ts";
import { performFile, type FileCommand, type FileOutcome } from "./files.ts";
import { SessionHistory } from "./history.ts";
import { ToolCalls } from "./tool-calls.ts";

/** One door attached to a session (a client's connection), as the session sees it. */
export interface Attachment {
  /**
   * An event of the session, live. After an `evicted` event the session has let go of the
   * attachment: the door closes its connection.
   */
  deliver(event: SessionEvent): void;
}

/** What an attaching door is told: where the session's history stands, and what it missed. */
export interface Welcome {
  lastSeq: number;
  limits: SessionLimits;
  /** Set until the session runs something: it came back from a checkpoint at this execution count. */
  restoredFromCheckpoint: number | null;
  /** The recorded events after the seq the door asked for (none when it asked for none). */
  replay: RecordedEvent[];
  /** Why part of what it asked for cannot be replayed, or null. */
  gap: ReplayGap | null;
  /**
   * The ids of the work queued or running now (not introspections or file requests, which
   * answer their caller alone): a client that reconnects learns which of the requests it sent
   * on the connection that dropped reached the session.
   */
  workIds: string[];
}

export type ReplayGap =
  /** The door saw seqs this server never issued: the session was woken here and its history began again. */
  | { kind: "restarted"; since: number }
  /** Events from..to fell out of the replay buffer. */
  | { kind: "dropped"; from: number; to: number };

export interface SessionSettings {
  limits: SessionLimits;
  /** LOG_CODE: cell_finished carries the code (capped). */
  logCode: boolean;
  /** The server's buffer budget; each session takes its share from it. */
  buffers: BufferBudget;
  /** TOOL_CLIENT_TIMEOUT: how long a tool call waits while no client that answers tools is attached. */
  toolClientTimeoutMs: number;
}

export type { Outcome } from "./cell.ts";

/** A payload that becomes a Python variable (see Session.addContext). */
export interface Payload {
  target: ContextKind;
  index: number | null;
  text: string;
  /** The text is JSON to decode. */
  json: boolean;
  /** performance.now() when its first byte arrived (the benchmark reads the time to the variable). */
  arrivedAt: number;
}

/** What an introspection (completion, inspection, is-complete) answers its caller. */
export type IntrospectAnswer = { reply: IntrospectReply } | { error: Refusal };

/** Code that ran, as Jupyter's history has it. */
export interface Input {
  execution_count: number;
  code: string;
}

type Work =
  | { kind: "execute"; id: string; code: string; timeoutMs: number; locals: LocalsMode; stdin: boolean }
  | { kind: "introspect"; id: string; request: IntrospectRequest; answer: (answer: IntrospectAnswer) => void }
  | { kind: "file"; id: string; command: FileCommand; answer: (outcome: FileOutcome) => void }
  | { kind: "set_vars"; id: string; vars: Record<string, unknown> }
  | { kind: "set_tools"; id: string; tools: ToolSpec[] }
  | { kind: "install"; id: string; filename: string; wheel: Uint8Array }
  | ({ kind: "add_context"; id: string } & Payload)
  | { kind: "reset"; id: string };

/** What a session is made of, besides its identity. */
export interface SessionParts {
  interpreter: Interpreter;
  gate: CellGate;
  /** Answers the llm_query calls of its cells. */
  llm: LlmGateway;
  settings: SessionSettings;
  clock: Clock;
  log: Logger;
  metrics: SessionMetrics;
  onEnded: (session: Session, reason: EvictionReason) => void;
  /** For a session taken over from the store: when it began and how many cells it ran. */
  earlier?: { createdAt: number; lastActiveAt: number; cellCount: number; executionCount: number };
  /** Set when the session was restored from a checkpoint after its server died: its execution count. */
  restoredFromCheckpoint?: number | null;
}

export class Session {
  readonly createdAt: number;
  private lastActive: number;
  private readonly history: SessionHistory;
  private readonly attachments = new Set<Attachment>();
  /** The attached doors whose clients declared tools (set_tools): they answer tool calls. */
  private readonly toolAnswerers = new Set<Attachment>();
  private readonly toolCalls: ToolCalls;
  private readonly queue: Work[] = [];
  private running: Work | null = null;
  private ended: EvictionReason | null = null;
  private generatedIds = 0;
  /** Callers of run() waiting for their work, by work id. */
  private readonly outcomes = new Map<string, (outcome: Outcome) => void>();
  /** When each queued piece of work was queued (performance.now()), for the queue wait. */
  private readonly queuedAt = new Map<Work, number>();
  /** What its queued work, doors' uploads and outboxes and replay buffer hold, against its budget. */
  readonly buffers: SessionBuffers;
  /** The bytes each queued or running piece of work holds (its code, payload or variables). */
  private readonly held = new Map<Work, number>();
  private readonly interpreter: Interpreter;
  private readonly cells: CellParts;
  private readonly settings: SessionSettings;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onEnded: SessionParts["onEnded"];
  /** Told on attach until the session runs something: it came back from a checkpoint at this execution count. */
  private restoredFromCheckpoint: number | null;
  /** Its server is draining: no new work starts here (see drain). */
  private draining = false;
  /** A snapshot (checkpoint or hibernation) in progress: work waits for it. */
  private snapshotting: Promise<unknown> | null = null;
  private idleWaiters: Array<() => void> = [];
  /** The running cell was interrupted before its interpreter had it (waiting for the quota or a snapshot). */
  private interruptedBeforeRun = false;
  /** The running cell's input() call waiting for a door's answer. */
  private waitingInput: { id: string; answer: (text: string) => void } | null = null;
  /** Code that ran, newest last, bounded (MAX_INPUTS, MAX_INPUT_CHARS). */
  private readonly ran: Input[] = [];
  private ranChars = 0;
  cellCount = 0;
  /** Python's execution count after the last cell. */
  executionCount = 0;

  constructor(
    readonly id: string,
    readonly owner: Pick<Identity, "tenant" | "user">,
    { interpreter, gate, llm, settings, clock, log, metrics, onEnded, earlier, restoredFromCheckpoint }: SessionParts,
  ) {
    this.restoredFromCheckpoint = restoredFromCheckpoint ?? null;
    // A woken session's interpreter counts on from its snapshot's: so do its next snapshots.
    this.executionCount = restoredFromCheckpoint ?? earlier?.executionCount ?? 0;
    this.interpreter = interpreter;
    this.cells = { tenant: owner.tenant, sessionId: id, gate, llm, metrics, log, logCode: settings.logCode };
    this.settings = settings;
    this.clock = clock;
    this.log = log;
    this.onEnded = onEnded;
    this.createdAt = earlier?.createdAt ?? clock.now();
    this.lastActive = earlier?.lastActiveAt ?? this.createdAt;
    this.cellCount = earlier?.cellCount ?? 0;
    this.history = new SessionHistory(settings.limits.replay_buffer_bytes);
    this.buffers = settings.buffers.session();
    this.toolCalls = new ToolCalls(settings.toolClientTimeoutMs, (event) => this.publish(event), { log, metrics });
  }

  get limits(): SessionLimits {
    return this.settings.limits;
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

  get attached(): number {
    return this.attachments.size;
  }

  get endedBy(): EvictionReason | null {
    return this.ended;
  }

  /** When the session became idle, or null while it has work (a running cell is never idle). */
  idleSince(): number | null {
    return this.running || this.queue.length > 0 ? null : this.lastActive;
  }

  /** Resolves once no work runs. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
      hibernated: this.hibernated,
      attached_clients: this.attachments.size,
    };
  }

  // ---- doors ----

  /**
   * Attaches a door: from now on it is delivered every event. What it is told (the history's
   * position and, after `since`, what it missed) it sends before anything else, in this same turn.
   */
  attach(attachment: Attachment, since: number | null): Welcome {
    this.attachments.add(attachment);
    const work = [...(this.running ? [this.running] : []), ...this.queue].filter((work) => !answersCaller(work));
    const welcome: Welcome = { lastSeq: this.history.lastSeq, limits: this.settings.limits, restoredFromCheckpoint: this.restoredFromCheckpoint, replay: [], gap: null, workIds: work.map((work) => work.id) };
    if (since === null) return welcome;
    if (since > this.history.lastSeq) return { ...welcome, gap: { kind: "restarted", since } };
    const { events, missing } = this.history.since(since);
    return { ...welcome, replay: events, gap: missing && { kind: "dropped", from: missing[0], to: missing[1] } };
  }

  detach(attachment: Attachment): void {
    this.attachments.delete(attachment);
    if (this.toolAnswerers.delete(attachment)) this.toolCalls.setAnswerers(this.toolAnswerers.size);
  }

  /** A new id for work its client did not name. */
  nextId(kind: WorkKind): string {
    return `${kind}-${++this.generatedIds}`;
  }

  // ---- work ----

  /**
   * Queues a cell; `timeout` in seconds (EXECUTION_TIMEOUT when absent, capped by
   * MAX_EXECUTION_TIMEOUT). With `stdin` false its client cannot answer input(), which then
   * raises EOFError at once instead of waiting.
   */
  execute(id: string, code: string, timeout: number | undefined, locals: LocalsMode, { stdin = true }: { stdin?: boolean } = {}): void {
    if (!this.touch()) return;
    this.enqueue({ kind: "execute", id, code, timeoutMs: cellTimeoutMs(this.settings.limits, timeout), locals, stdin });
  }

  /** Queues making Python variables of JSON values. */
  setVars(id: string | undefined, vars: Record<string, unknown>): void {
    if (!this.touch()) return;
    this.enqueue({ kind: "set_vars", id: id ?? this.nextId("set_vars"), vars });
  }

  /**
   * Queues declaring the tools the client behind `from` answers (replacing those declared
   * before): Python functions of their names. That door answers tool calls from now on (none
   * with an empty list).
   */
  setTools(id: string | undefined, tools: ToolSpec[], from: Attachment): void {
    if (!this.touch()) return;
    if (tools.length > 0 && this.attachments.has(from)) this.toolAnswerers.add(from);
    else this.toolAnswerers.delete(from);
    this.toolCalls.setAnswerers(this.toolAnswerers.size);
    this.enqueue({ kind: "set_tools", id: id ?? this.nextId("set_tools"), tools });
  }

  /** Answers a tool call of the running cell; returns why not when none of that id waits (for the door to answer its client alone). */
  toolResult(callId: string, answer: ToolAnswer): string | null {
    if (!this.touch()) return null;
    return this.toolCalls.answer(callId, answer);
  }

  /** Queues installing a user's pure-Python wheel into the session. */
  install(id: string | undefined, filename: string, wheel: Uint8Array): void {
    if (!this.touch()) return;
    this.enqueue({ kind: "install", id: id ?? this.nextId("install"), filename, wheel });
  }

  /** Queues a payload that becomes `context_<index>` (or `history_<index>`), as data. */
  addContext(id: string | undefined, payload: Payload): void {
    if (!this.touch()) return;
    this.enqueue({ kind: "add_context", id: id ?? this.nextId("add_context"), ...payload });
  }

  /** Queues a fresh interpreter for the session: every variable is dropped. */
  reset(id: string | undefined): void {
    if (!this.touch()) return;
    this.enqueue({ kind: "reset", id: id ?? this.nextId("reset") });
  }

  /**
   * Answers the input() the cell `id` waits in; returns why not when it waits in none (for the
   * door to answer its client alone).
   */
  input(id: string, text: string): string | null {
    if (!this.touch()) return null;
    const waiting = this.waitingInput;
    if (waiting?.id !== id) return `no cell with id "${id}" is waiting for input`;
    this.waitingInput = null;
    waiting.answer(text);
    return null;
  }

  /** Completion, inspection or an is-complete check, queued as work but no cell: nothing is recorded. */
  introspect(request: IntrospectRequest): Promise<IntrospectAnswer> {
    return new Promise((answer) => {
      if (!this.touch()) return answer({ error: { code: "session_expired", message: `the session ended (${this.ended})` } });
      this.enqueue({ kind: "introspect", id: this.nextId("introspect"), request, answer });
    });
  }

  /**
   * Writes, reads, deletes or lists the session's files (its working directory), queued as work
   * but no cell: in order with cells, and nothing is recorded. A hibernated session wakes for it.
   */
  files(command: FileCommand): Promise<FileOutcome> {
    return new Promise((answer) => {
      if (!this.touch()) return answer({ error: { code: "session_expired", message: `the session ended (${this.ended})` } });
      this.enqueue({ kind: "file", id: this.nextId("file"), command, answer });
    });
  }

  /** The code that ran here, oldest first (what Jupyter's history_request reads). */
  inputs(): readonly Input[] {
    return this.ran;
  }

  /**
   * Interrupts the running cell (no id, or its id), or cancels a queued one. Returns why not
   * when no queued or running work has that id (for the door to answer its client alone).
   */
  interrupt(id?: string): string | null {
    if (!this.touch()) return null;
    if (id === undefined || this.running?.id === id) {
      this.interruptRunning();
      return null;
    }
    const index = this.queue.findIndex((queued) => queued.id === id && !answersCaller(queued));
    if (index === -1) return `no queued or running cell has id "${id}"`;
    const [cancelled] = this.queue.splice(index, 1);
    this.letGo(cancelled!);
    this.countCell("cancelled");
    this.publishResult(cancelled!, resultWithoutRun({ type: "CancelledError", message: "the cell was cancelled before it ran", traceback: "" }, true));
    return null;
  }

  /** Work a door could not take (an upload that failed): its error is recorded as any refusal's. */
  reject(id: string, refusal: Refusal): void {
    this.fail(id, refusal);
  }

  /**
   * Runs code as a cell, after making `vars` Python variables, for callers without a door (the
   * HTTP API); its events reach attached doors as any cell's do. Resolves with the result, or
   * with the error that refused the work (busy, quota_exceeded, ...).
   */
  async run(code: string, timeoutSeconds: number | undefined, vars: Record<string, unknown>): Promise<Outcome> {
    this.touch();
    if (Object.keys(vars).length > 0) {
      const assigned = await this.outcomeOf({ kind: "set_vars", id: this.nextId("set_vars"), vars });
      if (!("result" in assigned) || !assigned.result.success) return assigned;
    }
    // Its caller waits for the whole answer: nobody could answer an input() meanwhile.
    return this.outcomeOf({ kind: "execute", id: this.nextId("execute"), code, timeoutMs: cellTimeoutMs(this.settings.limits, timeoutSeconds), locals: "all", stdin: false });
  }

  // ---- life cycle ----

  /**
   * Hibernates the interpreter when the session has no work (see Interpreter.hibernate); false
   * when it had work. Attached doors stay attached; their next cell wakes it.
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
    for (const work of this.queue.splice(0)) {
      this.letGo(work);
      this.refuseDraining(work);
    }
  }

  /** Interrupts the running cell, if any (a drain that ran out of time). */
  interruptRunning(): void {
    if (!this.running || this.interpreter.interrupt()) return;
    // Its interpreter has not taken the cell yet: the interrupt must not be lost meanwhile.
    if (this.running.kind === "execute") this.interruptedBeforeRun = true;
  }

  /**
   * Lets go of a hibernated session without ending it (this server shuts down; another wakes
   * it): doors are told it moves (`evicted`, resumable), and the SDK reconnects through another server.
   */
  release(): void {
    if (this.ended) return;
    this.ended = "shutdown";
    this.letGoOfDoors({ type: "evicted", reason: "shutdown", resumable: true });
  }

  /**
   * Lets go of a session another server took over while this one could not answer (a stalled
   * process): its doors are told it moves, as at a drain, so that they follow it there; work
   * queued here is refused, and its interpreter here closed. The store is not told: its record
   * is the other server's now.
   */
  async handOver(): Promise<void> {
    if (this.ended) return;
    const moved: Refusal = { code: "busy", message: "the session moved to another server; send it again (the SDK does)" };
    for (const work of this.queue) if (answersCaller(work)) work.answer({ error: moved });
    this.queue.length = 0;
    this.queuedAt.clear();
    for (const id of [...this.outcomes.keys()]) this.settle(id, { error: moved });
    this.release();
    await this.interpreter.close();
  }

  /** Ends the session: attached doors get `evicted {reason}` and are let go of. */
  async end(reason: EvictionReason): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    for (const work of this.queue) {
      if (work.kind === "execute") this.countCell("cancelled");
      if (answersCaller(work)) work.answer({ error: { code: "session_expired", message: `the session ended (${reason})` } });
    }
    this.queue.length = 0;
    this.queuedAt.clear();
    for (const id of [...this.outcomes.keys()]) this.settle(id, { error: { code: "session_expired", message: `the session ended (${reason})` } });
    this.interpreter.interrupt();
    this.letGoOfDoors({ type: "evicted", reason, resumable: false });
    this.onEnded(this, reason);
    await this.interpreter.close();
  }

  private letGoOfDoors(evicted: Unnumbered): void {
    this.publish(evicted);
    this.attachments.clear();
    this.toolAnswerers.clear();
    this.toolCalls.setAnswerers(0);
    this.held.clear();
    this.buffers.clear();
  }

  private async whileSnapshotting<T>(work: Promise<T>): Promise<T> {
    this.snapshotting = work;
    try {
      return await work;
    } finally {
      this.snapshotting = null;
    }
  }

  /** Marks the session used; false when it has ended (work for it is ignored). */
  private touch(): boolean {
    if (this.ended) return false;
    this.lastActive = this.clock.now();
    return true;
  }

  private outcomeOf(work: Work): Promise<Outcome> {
    return new Promise((resolve) => {
      this.outcomes.set(work.id, resolve);
      this.enqueue(work);
    });
  }

  private enqueue(work: Work): void {
    if (this.draining) return this.refuseDraining(work);
    if (this.running?.id === work.id || this.queue.some((queued) => queued.id === work.id)) {
      return this.refuse(work, { code: "bad_request", message: `a cell with id "${work.id}" is already queued or running; use a new id` });
    }
    const { max_queued_cells: max } = this.settings.limits;
    if (this.queue.length >= max) {
      return this.refuse(work, { code: "busy", message: `the session already has ${max} cells queued (MAX_QUEUED_CELLS); wait for a result or interrupt` });
    }
    const bytes = workBytes(work);
    const refusal = this.buffers.reserve("queued", bytes, `this ${work.kind}`);
    if (refusal) return this.refuse(work, refusal);
    this.held.set(work, bytes);
    this.queue.push(work);
    this.queuedAt.set(work, performance.now());
    if (!answersCaller(work)) this.deliver({ type: "queued", id: work.id, kind: work.kind });
    void this.runNext();
  }

  /** Queued or running work is done with: the bytes it held go back to the budget. */
  private letGo(work: Work): void {
    const bytes = this.held.get(work);
    this.queuedAt.delete(work);
    if (bytes === undefined) return;
    this.held.delete(work);
    this.buffers.release("queued", bytes);
  }

  private refuseDraining(work: Work): void {
    this.refuse(work, { code: "server_draining", message: "this server is shutting down and the session is moving to another; send it again there (the SDK does)" });
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    const work = this.ended ? undefined : this.queue.shift();
    if (!work) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    const queuedAt = this.queuedAt.get(work) ?? performance.now();
    this.running = work;
    this.interruptedBeforeRun = false;
    try {
      await this.perform(work, queuedAt);
    } finally {
      this.letGo(work);
      this.running = null;
      this.lastActive = this.clock.now();
    }
    void this.runNext();
  }

  private async perform(work: Work, queuedAt: number): Promise<void> {
    const started = () => {
      this.restoredFromCheckpoint = null;
      this.deliver({ type: "started", id: work.id, kind: work.kind });
    };
    if (work.kind === "execute") {
      const { id, code, timeoutMs, locals } = work;
      const onOutput = (name: "stdout" | "stderr", text: string) => this.publish({ type: "stream", id, name, text });
      const onDisplay = (message: DisplayMessage) => this.publish(message.kind === "display" ? { type: "display", id, ...withoutKind(message) } : { type: "clear_output", id, wait: message.wait });
      const input = (prompt: string, password: boolean) =>
        new Promise<string>((answer) => {
          this.waitingInput = { id, answer };
          this.publish({ type: "input_request", id, prompt, password });
        });
      const tool = this.toolCalls.forCell(id);
      const outcome = await runCell(this.cells, { id, code, timeoutMs, locals, queuedAt, onOutput, onDisplay, tool, ...(work.stdin && { input }) }, () => this.cellRunner(), started).finally(() => {
        this.waitingInput = null;
        this.toolCalls.endCell();
      });
      if ("error" in outcome) return this.fail(id, outcome.error);
      this.cellCount++;
      if (outcome.result.execution_count > 0) {
        this.executionCount = outcome.result.execution_count;
        this.remember({ execution_count: this.executionCount, code });
      }
      // A replaced interpreter counts from the start again.
      if (!outcome.result.state_preserved) this.executionCount = 0;
      return this.publishResult(work, outcome.result);
    }
    if (work.kind === "introspect") {
      try {
        await this.sandboxReady();
        return work.answer({ reply: await this.interpreter.introspect(work.request) });
      } catch (error) {
        return work.answer({ error: refusalFor(error, this.cells, work.id) });
      }
    }
    if (work.kind === "file") {
      try {
        await this.sandboxReady();
        return work.answer(await performFile(this.interpreter, work.command, this.settings.limits.max_file_bytes));
      } catch (error) {
        return work.answer({ error: refusalFor(error, this.cells, work.id) });
      }
    }
    // Bookkeeping, not a cell: no quota, no cell metrics.
    started();
    try {
      await this.sandboxReady();
      this.publishResult(work, await this.bookkeeping(work));
    } catch (error) {
      this.fail(work.id, refusalFor(error, this.cells, work.id));
    }
  }

  /** Where the running cell runs: its interpreter, unless it was interrupted before it got there. */
  private async cellRunner(): Promise<CellRunner> {
    const interpreter = await this.sandboxReady();
    if (!this.interruptedBeforeRun) return interpreter;
    return { execute: async () => resultWithoutRun({ type: "KeyboardInterrupt", message: "interrupted before it started running", traceback: "" }, true) };
  }

  /** The interpreter, once a snapshot being taken (which holds the sandbox a moment) is done. */
  private async sandboxReady(): Promise<Interpreter> {
    await this.snapshotting?.catch(() => {});
    return this.interpreter;
  }

  private remember(input: Input): void {
    this.ran.push(input);
    this.ranChars += input.code.length;
    while (this.ran.length > MAX_INPUTS || (this.ranChars > MAX_INPUT_CHARS && this.ran.length > 1)) this.ranChars -= this.ran.shift()!.code.length;
  }

  private async bookkeeping(work: Exclude<Work, { kind: "execute" | "introspect" | "file" }>): Promise<CellResult> {
    switch (work.kind) {
      case "set_vars":
        return resultWithoutRun(await this.interpreter.setVars(work.vars), true);
      case "set_tools":
        return resultWithoutRun(await this.interpreter.setTools(work.tools), true);
      case "install":
        return resultWithoutRun(await this.interpreter.installWheel(work.filename, work.wheel), true);
      case "add_context": {
        const error = await this.interpreter.addContext(work.target, work.index, work.text, work.json);
        // From the first byte's arrival until the variable exists: the benchmark reads this.
        const durationMs = Math.round(performance.now() - work.arrivedAt);
        this.log.info("context_added", { session_id: this.id, tenant: this.owner.tenant, kind: work.target, chars: work.text.length, duration_ms: durationMs, ok: error === null });
        return resultWithoutRun(error, true);
      }
      case "reset":
        await this.interpreter.reset();
        this.executionCount = 0;
        return resultWithoutRun(null, false);
    }
  }

  private publishResult(work: Work, result: CellResult): void {
    this.publish({ type: "result", id: work.id, kind: work.kind, result });
    this.settle(work.id, { result });
  }

  /** Work that will not run: its error, and a refused cell when it was Python code. */
  private refuse(work: Work, refusal: Refusal): void {
    if (answersCaller(work)) return work.answer({ error: refusal });
    if (work.kind === "execute") refuseCell(this.cells, work, refusal);
    this.fail(work.id, refusal);
  }

  private countCell(outcome: "cancelled"): void {
    this.cells.metrics.cell(this.owner.tenant, outcome);
  }

  private fail(id: string, refusal: Refusal): void {
    this.publish({ type: "error", id, ...refusal });
    this.settle(id, { error: refusal });
  }

  private settle(id: string, outcome: Outcome): void {
    this.outcomes.get(id)?.(outcome);
    this.outcomes.delete(id);
  }

  /** Gives an event the next seq, keeps it for replay, and delivers it to every attached door. */
  private publish(unnumbered: Unnumbered): void {
    const event = { ...unnumbered, seq: this.history.lastSeq + 1 } as RecordedEvent;
    this.history.record(event);
    this.buffers.set("replay", this.history.bytes);
    this.deliver(event);
  }

  private deliver(event: SessionEvent): void {
    for (const attachment of this.attachments) attachment.deliver(event);
  }
}

/** Inputs kept for history_request: as many as IPython keeps by default, and at most this much code. */
const MAX_INPUTS = 1000;
const MAX_INPUT_CHARS = 1024 * 1024;

/** Work answered to its caller alone (an introspection, a file request): no event, no history, never cancelled by id. */
function answersCaller(work: Work): work is Extract<Work, { kind: "introspect" | "file" }> {
  return work.kind === "introspect" || work.kind === "file";
}

function withoutKind<T extends { kind: string }>({ kind: _kind, ...rest }: T): Omit<T, "kind"> {
  return rest;
}

/** What work holds while it waits: its code, its payload, its variables (as JSON), or the file it writes. */
function workBytes(work: Work): number {
  switch (work.kind) {
    case "execute":
      return work.code.length;
    case "introspect":
      return "code" in work.request ? work.request.code.length : 0;
    case "file":
      return work.command.kind === "write" ? work.command.bytes.byteLength : 0;
    case "add_context":
      return work.text.length;
    case "set_vars":
      return JSON.stringify(work.vars).length;
    case "set_tools":
      return JSON.stringify(work.tools).length;
    case "install":
      return work.wheel.byteLength;
    case "reset":
      return 0;
  }
}
