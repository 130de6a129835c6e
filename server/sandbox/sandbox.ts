// One sandbox seen from the host: one Python interpreter, on a worker of a Deno process that
// hosts interpreters of one identity (see sandbox-process.ts). It runs one cell at a time,
// enforces the cell's deadline in two stages (interrupt, then kill), gives every other call a
// deadline, and reports every way the interpreter can end.
import type { ProcessExit } from "./guest-process.ts";
import {
  INPUT_CAPS,
  type CellError,
  type ContextKind,
  type DisplayMessage,
  type FileReply,
  type FileRequest,
  type GuestCellResult,
  type GuestMessage,
  type HostMessage,
  type InputAnswer,
  type IntrospectReply,
  type IntrospectRequest,
  type LlmRequest,
  type LocalsMode,
  type StreamName,
  type ToolAnswer,
  TOOL_CAPS,
} from "./ipc.ts";
import type { ChannelEnd, InterpreterChannel, ProcessLimits, SandboxProcess } from "./sandbox-process.ts";
import type { Logger } from "../log.ts";
import { parseJson, type RlmCall, type ToolSpec } from "../../protocol/index.ts";

export type { DisplayMessage, FileEntry, FileFailure, FileReply, FileRequest, IntrospectReply, IntrospectRequest, MimeBundle } from "./ipc.ts";

export interface SandboxLimits extends ProcessLimits {
  /** How long an interrupted cell has to end before its process is killed. */
  killGraceMs: number;
  bootTimeoutMs: number;
  /**
   * How long a snapshot, set_vars, add_context, introspect or file request may go unanswered, on
   * top of a time per MiB it carries (see callDeadlineMs), before the sandbox is taken for hung and killed.
   */
  callTimeoutMs: number;
}

export interface SandboxEnvironment {
  limits: SandboxLimits;
  log: Logger;
  /** Told of every sandbox that ends, however it ends (boot failures included). */
  onExit?: (exit: SandboxExit) => void;
}

/** Why a sandbox process ended. */
export const EXIT_CAUSES = [
  "closed", // the host stopped it
  "timeout", // a cell outlived its deadline and the interrupt
  "interrupted", // an explicit interrupt was not honoured in time
  "memory_limit",
  "stack_overflow",
  "interpreter_fatal",
  "protocol_violation", // it sent something that is not a valid frame
  "boot_failed",
  "unresponsive", // it did not answer a snapshot or a call between cells within its deadline
  "crashed", // it died on its own for any other reason
] as const;
export type ExitCause = (typeof EXIT_CAUSES)[number];

export interface SandboxExit {
  cause: ExitCause;
  detail: string;
  /**
   * Whether a cell was running: its result already says the state is gone. (set_vars and
   * add_context answer only with their error: the next cell's result says it.)
   */
  duringCell?: boolean;
}

export interface CellRequest {
  code: string;
  timeoutMs: number;
  locals: LocalsMode;
  onOutput?: (name: StreamName, text: string) => void;
  /** Rich output (display(), clear_output()), in order with the streams. */
  onDisplay?: (message: DisplayMessage) => void;
  /** Answers the cell's llm_query calls, one text per prompt (failures as "Error: ..." texts). */
  llm?: (request: LlmRequest) => Promise<string[]>;
  /**
   * Answers the cell's input() and getpass() (`password`), one line each; a rejection is an
   * EOFError in Python. Without it they raise EOFError at once. An interrupt or the cell's
   * deadline ends the cell's wait, not this call: its late answer is dropped.
   */
  input?: (prompt: string, password: boolean) => Promise<string>;
  /**
   * Answers the cell's calls of declared tools: the value, or why there is none (a ToolError in
   * Python). Without it a tool call raises ToolError at once. As with input, an interrupt or
   * the deadline ends the cell's wait and drops a late answer.
   */
  tool?: (call: ToolCall) => Promise<ToolAnswer>;
}

/** A declared tool Python called: its name and its arguments as JSON values. */
export interface ToolCall {
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** What llm_query answers when the cell was given no way to reach a model. */
const NO_LLM_ANSWER = "Error: no LLM is available to this cell";
/** Why a tool call fails when the cell was given no way to make one. */
const NO_TOOLS = "no client of this session answers tools";
/** Why input() fails when the cell was given no way to ask. */
const NO_INPUT = "input() is not available: this client cannot answer it";

export interface CellResult extends Omit<GuestCellResult, "cell"> {
  /** False when the interpreter had to be killed: every variable of the session is gone. */
  state_preserved: boolean;
  /** The model calls the cell made; filled in by whoever answered them (the session). */
  rlm_calls: RlmCall[];
}

/** The result of work that ran no Python to its end (a cancelled or killed cell, a reset): success when error is null. */
export function resultWithoutRun(error: CellError | null, statePreserved: boolean): CellResult {
  return {
    success: error === null,
    stdout: "",
    stderr: "",
    value: null,
    locals: null,
    execution_count: 0,
    execution_time: 0,
    error,
    output_dropped_bytes: 0,
    final_answer: null,
    truncated: [],
    data: null,
    state_preserved: statePreserved,
    rlm_calls: [],
  };
}

export class SandboxBusy extends Error {}
export class SnapshotFailed extends Error {}
export class SandboxGone extends Error {}

interface RunningCell {
  id: number;
  request: CellRequest;
  stdout: string;
  stderr: string;
  /** Output it sent, counted as the guest counts it against the cell's cap (see spend). */
  outputChars: number;
  /** An input() is waiting for request.input's answer (the guest asks one at a time). */
  asking: boolean;
  /** A tool call is waiting for request.tool's answer (the guest makes one at a time). */
  callingTool: boolean;
  stopReason: "timeout" | "interrupted" | null;
  timers: NodeJS.Timeout[];
  resolve(result: CellResult): void;
}

/** A call that runs between cells (set_vars, set_env, add_context, introspect, file, packages) and what answers it. */
type CallRequest = Extract<HostMessage, { type: "set_vars" | "set_env" | "set_tools" | "add_context" | "introspect" | "file" | "load_packages" | "install_wheel" }>;
type CallAnswer = Extract<GuestMessage, { type: "applied" | "introspected" | "file_reply" }>;

/** The guest's answer to a file request, and the bytes beside it (a read's). */
export interface FileAnswer {
  reply: FileReply;
  body: Uint8Array | null;
}

interface PendingCall {
  /** Settles the call with the guest's answer; false when that answer is not one to this call. */
  answer(message: CallAnswer, body: Uint8Array | null): boolean;
  /** The sandbox ended before it answered. */
  lost(exit: SandboxExit): void;
}

/** The replies that may answer each kind of file request. */
const FILE_ANSWERS: Record<FileRequest["kind"], readonly FileReply["kind"][]> = {
  write: ["done", "failed"],
  read: ["content", "failed"],
  delete: ["done", "failed"],
  mkdir: ["done", "failed"],
  list: ["listing", "failed"],
};

const INTERRUPT_REPEAT_MS = 100;
// A call's deadline grows with what it carries: a snapshot copies the heap (measured: ~5 ms a MiB
// on a loaded two-core machine), add_context parses its payload, a file request copies its file.
// Four times that, for headroom.
const CALL_MS_PER_MIB = 20;
const MIB = 1024 * 1024;

export class Sandbox {
  readonly exited: Promise<SandboxExit>;
  bootMs = 0;
  private cause: SandboxExit | null = null;
  private nextCell = 0;
  private running: RunningCell | null = null;
  private lastOutput: RunningCell | null = null;
  /** Calls between cells waiting for the guest's answer, by id. */
  private calls = new Map<number, PendingCall>();
  /** A snapshot asked for; its deadline's timer once the request has gone out (see InterpreterChannel.requestSnapshot). */
  private snapshotting: { resolve(bytes: Uint8Array): void; reject(error: Error): void; timer: NodeJS.Timeout | null } | null = null;
  private readonly channel: InterpreterChannel;
  private readonly booted: Promise<void>;

  /**
   * Boots an interpreter in `host` from the base snapshot, or from a session's own snapshot
   * (waking a hibernated session); resolves once it answers.
   */
  static async start(env: SandboxEnvironment, host: SandboxProcess, snapshot?: Uint8Array): Promise<Sandbox> {
    const sandbox = new Sandbox(env, host, snapshot);
    await sandbox.booted;
    return sandbox;
  }

  private constructor(
    private readonly env: SandboxEnvironment,
    readonly host: SandboxProcess,
    snapshot?: Uint8Array,
  ) {
    const { limits } = env;
    let markBooted!: () => void;
    let failBoot!: (error: Error) => void;
    this.booted = new Promise((resolve, reject) => ((markBooted = resolve), (failBoot = reject)));
    const bootTimer = setTimeout(() => this.stop({ cause: "boot_failed", detail: `no answer within ${limits.bootTimeoutMs} ms` }), limits.bootTimeoutMs);
    this.channel = host.start(
      { memoryCapBytes: limits.memoryMb * MIB, maxOutputBytes: limits.maxOutputBytes },
      (message, body) => {
        if (message.type === "ready") {
          clearTimeout(bootTimer);
          this.bootMs = message.boot_ms;
          markBooted();
        } else {
          this.receive(message, body);
        }
      },
      snapshot,
    );
    this.exited = this.channel.ended.then((end) => {
      clearTimeout(bootTimer);
      const ended = this.cause ?? classifyEnd(end);
      this.cause = ended;
      env.onExit?.(ended);
      failBoot(new Error(`sandbox failed to boot (${ended.cause}): ${ended.detail}`));
      const duringCell = this.running !== null;
      this.finishRunning(ended);
      return { ...ended, duringCell };
    });
  }

  /** The process the interpreter runs in (shared with others of its identity). */
  get pid(): number | undefined {
    return this.channel.pid;
  }

  get alive(): boolean {
    return this.cause === null;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  execute(request: CellRequest): Promise<CellResult> {
    if (!this.alive) return Promise.reject(new SandboxGone("the sandbox has ended"));
    if (this.running || this.snapshotting) return Promise.reject(new SandboxBusy("a cell or a snapshot is already running in this sandbox"));
    return new Promise((resolve) => {
      const cell: RunningCell = { id: ++this.nextCell, request, stdout: "", stderr: "", outputChars: 0, asking: false, callingTool: false, stopReason: null, timers: [], resolve };
      this.running = cell;
      this.lastOutput = cell;
      cell.timers.push(setTimeout(() => this.stopCell(cell, "timeout"), request.timeoutMs));
      this.channel.send({ type: "run", cell: cell.id, code: request.code, locals: request.locals });
    });
  }

  /** Interrupts the running cell (KeyboardInterrupt); returns false when none runs. */
  interrupt(): boolean {
    if (!this.running) return false;
    this.stopCell(this.running, "interrupted");
    return true;
  }

  /** Makes JSON values Python variables; resolves with the Python error if they were refused. */
  setVars(vars: Record<string, unknown>): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "set_vars", cell, vars }));
  }

  /** Adds variables to os.environ (names and sizes checked by the caller); resolves with the Python error if they were refused. */
  setEnv(env: Readonly<Record<string, string>>): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "set_env", cell, env: { ...env } }));
  }

  /** Makes the client's declared tools Python functions (names checked by the caller); resolves with the Python error if they were refused. */
  setTools(tools: readonly ToolSpec[]): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "set_tools", cell, tools: tools.map((tool) => ({ ...tool })) }));
  }

  /**
   * Makes a payload the variable `context_<index>` (or `history_<index>`; the next free index when
   * null): `text` itself, or the value it encodes when `json`. It travels as bytes, never as code.
   */
  addContext(kind: ContextKind, index: number | null, text: string, json: boolean): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "add_context", cell, kind, index, json }), Buffer.from(text, "utf8"));
  }

  /**
   * Loads packages of the repository (as its lock file keys them, with their dependencies) and
   * imports them, outside any cell: what the base snapshot is to hold (PRELOAD_PACKAGES).
   */
  loadPackages(names: string[]): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "load_packages", cell, names }));
  }

  /** Installs a pure-Python wheel into the session (kept across hibernation); resolves with why it was refused. */
  installWheel(filename: string, wheel: Uint8Array): Promise<CellError | null> {
    return this.apply((cell) => ({ type: "install_wheel", cell, filename }), wheel);
  }

  /**
   * A snapshot of the interpreter with every variable, function, class and import (to hibernate
   * or checkpoint the session). Only between cells; the sandbox keeps running.
   */
  snapshot(): Promise<Uint8Array> {
    if (!this.alive) return Promise.reject(new SandboxGone("the sandbox has ended"));
    if (this.running || this.snapshotting) return Promise.reject(new SandboxBusy("a snapshot is taken only between cells"));
    // The heap it copies is at most the cap.
    const deadlineMs = this.callDeadlineMs(this.env.limits.memoryMb);
    return new Promise((resolve, reject) => {
      const waiting: NonNullable<Sandbox["snapshotting"]> = { resolve, reject, timer: null };
      this.snapshotting = waiting;
      // The deadline counts from when the process starts on it, not the time it waited for
      // other interpreters' snapshots (see SandboxProcess.requestSnapshot). Missed: the kill
      // rejects it, in finishRunning.
      this.channel.requestSnapshot(() => {
        waiting.timer = setTimeout(() => this.stop({ cause: "unresponsive", detail: `the sandbox did not answer a snapshot within ${deadlineMs} ms (SANDBOX_CALL_TIMEOUT_MS); it was killed` }), deadlineMs);
      });
    });
  }

  /**
   * Completes, inspects, or tells whether code is complete, about the session's globals. It runs
   * no cell: no execution count, nothing in the history. Only between cells (SandboxBusy
   * otherwise): behind a running cell it would wait past its own deadline.
   */
  introspect(request: IntrospectRequest): Promise<IntrospectReply> {
    if (this.alive && (this.running || this.snapshotting)) return Promise.reject(new SandboxBusy("introspection runs only between cells"));
    return this.call(
      { type: "introspect", cell: ++this.nextCell, request },
      undefined,
      request.code.length,
      (answer) => (answer.type === "introspected" && answer.reply.kind === request.kind ? answer.reply : undefined),
      (exit) => new SandboxGone(`the sandbox ended before it answered (${exit.cause}: ${exit.detail})`),
    );
  }

  /**
   * Writes, reads, deletes or lists files of the working directory, or makes a directory there
   * (see FileRequest); `body` is a write's bytes. Only between cells (SandboxBusy otherwise), as
   * introspection. The answer is checked against the request: a read's bytes are the size it
   * says and at most its max_bytes.
   */
  file(request: FileRequest, body?: Uint8Array): Promise<FileAnswer> {
    if (this.alive && (this.running || this.snapshotting)) return Promise.reject(new SandboxBusy("file requests run only between cells"));
    const answers = FILE_ANSWERS[request.kind];
    const carried = request.kind === "write" ? (body?.byteLength ?? 0) : request.kind === "read" ? request.max_bytes : 0;
    return this.call(
      { type: "file", cell: ++this.nextCell, request },
      body,
      carried,
      (answer, answerBody): FileAnswer | undefined => {
        if (answer.type !== "file_reply" || !answers.includes(answer.reply.kind)) return undefined;
        const { reply } = answer;
        if (reply.kind !== "content") return answerBody === null ? { reply, body: null } : undefined;
        const bytes = answerBody ?? new Uint8Array();
        return request.kind === "read" && bytes.byteLength === reply.bytes && reply.bytes <= request.max_bytes ? { reply, body: bytes } : undefined;
      },
      (exit) => new SandboxGone(`the sandbox ended before it answered (${exit.cause}: ${exit.detail})`),
    );
  }

  private apply(message: (id: number) => Extract<CallRequest, { type: "set_vars" | "set_env" | "set_tools" | "add_context" | "load_packages" | "install_wheel" }>, body?: Uint8Array): Promise<CellError | null> {
    return this.call(
      message(++this.nextCell),
      body,
      body?.byteLength ?? 0,
      (answer) => (answer.type === "applied" ? answer.error : undefined),
      // The next cell's result says the state is gone.
      lostStateError,
    );
  }

  /**
   * Sends a call that runs between cells and waits for its answer, which `accept` takes
   * (undefined: not an answer to this call, and the sandbox is ended for it); `lost` gives the
   * outcome when the sandbox ends first (an Error rejects). Unanswered within its deadline, the
   * sandbox is taken for hung and killed.
   */
  private call<T>(
    request: CallRequest,
    body: Uint8Array | undefined,
    carriedBytes: number,
    accept: (answer: CallAnswer, body: Uint8Array | null) => T | undefined,
    lost: (exit: SandboxExit) => T | Error,
  ): Promise<T> {
    if (!this.alive) return Promise.reject(new SandboxGone("the sandbox has ended"));
    const deadlineMs = this.callDeadlineMs(carriedBytes / MIB);
    return new Promise((resolve, reject) => {
      // Missed: the kill settles this call (and any other) as lost, in finishRunning.
      const timer = setTimeout(() => this.stop({ cause: "unresponsive", detail: `the sandbox did not apply ${request.type} within ${deadlineMs} ms (SANDBOX_CALL_TIMEOUT_MS); it was killed` }), deadlineMs);
      const settle = (outcome: T | Error) => {
        clearTimeout(timer);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.calls.set(request.cell, {
        answer: (message, answerBody) => {
          const value = accept(message, answerBody);
          if (value === undefined) return false;
          settle(value);
          return true;
        },
        lost: (exit) => settle(lost(exit)),
      });
      this.channel.send(request, body);
    });
  }

  private callDeadlineMs(carriedMib: number): number {
    return this.env.limits.callTimeoutMs + Math.ceil(carriedMib * CALL_MS_PER_MIB);
  }

  /** Stops the interpreter; resolves once it has ended. */
  async close(): Promise<SandboxExit> {
    this.stop({ cause: "closed", detail: "closed by the server" });
    return this.exited;
  }

  private stop(reason: SandboxExit): void {
    this.cause ??= reason;
    this.channel.kill();
  }

  private stopCell(cell: RunningCell, reason: "timeout" | "interrupted"): void {
    if (cell.stopReason) return;
    cell.stopReason = reason;
    this.channel.send({ type: "interrupt" });
    // Pyodide can lose an interrupt written while it clears the previous one: repeat until the cell ends.
    cell.timers.push(setInterval(() => this.channel.send({ type: "interrupt" }), INTERRUPT_REPEAT_MS));
    cell.timers.push(
      setTimeout(() => {
        if (this.running === cell) {
          this.stop({ cause: reason, detail: `the cell did not stop within ${this.env.limits.killGraceMs} ms of its interrupt` });
        }
      }, this.env.limits.killGraceMs),
    );
  }

  private receive(message: GuestMessage, body: Uint8Array | null): void {
    switch (message.type) {
      case "snapshot":
      case "snapshot_failed": {
        const waiting = this.snapshotting;
        this.snapshotting = null;
        if (waiting) {
          if (waiting.timer) clearTimeout(waiting.timer);
          this.channel.snapshotAnswered();
        }
        if (message.type === "snapshot" && body?.byteLength === message.bytes) return waiting?.resolve(body);
        return waiting?.reject(new SnapshotFailed(message.type === "snapshot_failed" ? message.message : "the snapshot arrived incomplete"));
      }
      case "stream":
        return this.output(message.cell, message.name, message.text);
      case "display":
        return this.display(message.cell, message.message);
      case "result":
        return this.completed(message);
      case "applied":
      case "introspected":
      case "file_reply": {
        const pending = this.calls.get(message.cell);
        if (!pending) return;
        // An answer that does not fit its call leaves the call to be settled as lost by the kill.
        if (pending.answer(message, body)) this.calls.delete(message.cell);
        else this.stop({ cause: "protocol_violation", detail: `the sandbox answered a ${message.type} to a call it does not answer` });
        return;
      }
      case "llm_request":
        return this.answerLlm(message);
      case "input_request":
        return this.answerInput(message);
      case "tool_request":
        return this.answerTool(message);
      case "fatal":
        return this.stop({ cause: message.cause, detail: message.message });
      default:
        this.stop({ cause: "protocol_violation", detail: `unexpected ${message.type} message` });
    }
  }

  /** A cell blocked in llm_query: the running cell's handler answers; anything else gets errors. */
  private answerLlm({ cell: cellId, call, prompts, model, recursive }: Extract<GuestMessage, { type: "llm_request" }>): void {
    const cell = this.running;
    const handler = cell?.id === cellId ? cell.request.llm : undefined;
    const answering = handler ? handler({ prompts, model, recursive }) : Promise.resolve(prompts.map(() => NO_LLM_ANSWER));
    void answering
      .catch((error: Error) => prompts.map(() => `Error: ${error.message}`))
      .then((answers) => this.channel.send({ type: "llm_answer", call, answers }));
  }

  /** A cell blocked in input(): the running cell's handler answers, one question at a time. */
  private answerInput({ cell: cellId, call, prompt, password }: Extract<GuestMessage, { type: "input_request" }>): void {
    const cell = this.running;
    const ask = cell?.id === cellId ? cell.request.input : undefined;
    const reply = (answer: InputAnswer) => this.channel.send({ type: "input_answer", call, answer });
    if (!cell || !ask) return reply({ error: NO_INPUT });
    // A guest that asks again before the answer (only one whose Python rebound its helpers can)
    // must not make the client face a pile of questions.
    if (cell.asking) return reply({ error: "input() is already waiting for an answer" });
    cell.asking = true;
    void ask(prompt, password)
      .then(
        (text): InputAnswer =>
          typeof text !== "string" ? { error: "input() got no text" } : text.length > INPUT_CAPS.answerChars ? { error: `the answer is over ${INPUT_CAPS.answerChars} characters` } : { text },
        (error: Error): InputAnswer => ({ error: `input() got no answer: ${error?.message ?? error}` }),
      )
      .then((answer) => {
        cell.asking = false;
        reply(answer);
      });
  }

  /** A cell blocked in a tool call: the running cell's handler answers. */
  private answerTool({ cell: cellId, call, name, args }: Extract<GuestMessage, { type: "tool_request" }>): void {
    const cell = this.running;
    const handler = cell?.id === cellId ? cell.request.tool : undefined;
    const reply = (answer: ToolAnswer) => this.channel.send({ type: "tool_answer", call, answer });
    if (!cell || !handler) return reply({ error: NO_TOOLS });
    // Only a guest whose Python reached past its helpers calls again before the answer: it must
    // not pile up calls for the clients (nor waiting calls in the session).
    if (cell.callingTool) return reply({ error: "a tool call is already waiting for its answer" });
    const parsed = toolArguments(args);
    if (!parsed) return reply({ error: "the tool's arguments are not a JSON list of [positional, keyword]" });
    cell.callingTool = true;
    void handler({ name, ...parsed })
      .catch((error: Error): ToolAnswer => ({ error: `the tool got no answer: ${error?.message ?? error}` }))
      .then((answer) => {
        cell.callingTool = false;
        reply("value" in answer && answer.value.length > TOOL_CAPS.valueChars ? { error: `the tool's value is over ${TOOL_CAPS.valueChars} characters as JSON` } : answer);
      });
  }

  private output(cellId: number, name: StreamName, text: string): void {
    // Output of a finished cell (a callback that fired late) still reaches that cell's listener.
    const cell = this.lastOutput;
    if (!cell || cell.id !== cellId || (name !== "stdout" && name !== "stderr") || typeof text !== "string") return;
    if (!this.spend(cell, text.length)) return;
    if (cell === this.running) cell[name] += text;
    cell.request.onOutput?.(name, text);
  }

  private display(cellId: number, message: DisplayMessage): void {
    const cell = this.lastOutput;
    if (!cell || cell.id !== cellId || !this.spend(cell, JSON.stringify(message).length)) return;
    cell.request.onDisplay?.(message);
  }

  /**
   * Counts output against the cell's cap. The guest counts the same text's UTF-8 bytes, never
   * fewer, and sends nothing past the cap: a guest that does is ended before more gets through.
   */
  private spend(cell: RunningCell, chars: number): boolean {
    cell.outputChars += chars;
    if (cell.outputChars <= this.env.limits.maxOutputBytes) return true;
    this.stop({ cause: "protocol_violation", detail: `the sandbox sent more than the cell's ${this.env.limits.maxOutputBytes} bytes of output` });
    return false;
  }

  private completed(message: GuestCellResult & { type: "result" }): void {
    const cell = this.running;
    if (!cell || cell.id !== message.cell) return;
    const { cell: _id, type: _type, ...result } = message;
    let error = result.error;
    if (cell.stopReason === "timeout" && error?.type === "KeyboardInterrupt") error = timeoutError(cell.request.timeoutMs, error.traceback);
    this.settle(cell, { ...result, error, stdout: cell.stdout, stderr: cell.stderr, state_preserved: true, rlm_calls: [] });
  }

  private finishRunning(exit: SandboxExit): void {
    if (this.snapshotting?.timer) clearTimeout(this.snapshotting.timer);
    this.snapshotting?.reject(new SandboxGone(`the sandbox ended while taking a snapshot (${exit.cause}: ${exit.detail})`));
    this.snapshotting = null;
    for (const pending of this.calls.values()) pending.lost(exit);
    this.calls.clear();
    const cell = this.running;
    if (!cell) return;
    const error =
      exit.cause === "timeout"
        ? timeoutError(cell.request.timeoutMs, "")
        : exit.cause === "interrupted"
        ? { type: "KeyboardInterrupt", message: "the cell ignored its interrupt", traceback: "" }
        : lostStateError(exit);
    error.message += "; the interpreter was restarted, so every variable of the session is gone";
    this.settle(cell, { ...resultWithoutRun(error, false), stdout: cell.stdout, stderr: cell.stderr });
  }

  private settle(cell: RunningCell, result: CellResult): void {
    for (const timer of cell.timers) clearTimeout(timer);
    this.running = null;
    cell.resolve(result);
  }

}

function timeoutError(timeoutMs: number, traceback: string): CellError {
  const message = `the cell exceeded its timeout of ${timeoutMs / 1000} s`;
  return { type: "TimeoutError", message, traceback: traceback.replace(/KeyboardInterrupt\s*$/, `TimeoutError: ${message}\n`) };
}

function lostStateError(exit: SandboxExit): CellError {
  const type = exit.cause === "memory_limit" ? "MemoryError" : exit.cause === "stack_overflow" ? "RecursionError" : "SandboxError";
  return { type, message: `the sandbox ended (${exit.cause}): ${exit.detail.split("\n")[0]}`, traceback: "" };
}

/** Why an interpreter ended that the host did not end itself (its process may have been ended for another, or for all). */
function classifyEnd(end: ChannelEnd): SandboxExit {
  if (end.protocolViolation) return { cause: "protocol_violation", detail: end.protocolViolation };
  // Killed by the server: never "ended unexpectedly", whatever the signal.
  if (end.killed) return { cause: end.killed.cause, detail: `the server killed its sandbox process: ${end.killed.detail}` };
  if (end.process) return classifyExit(end.process);
  return { cause: "crashed", detail: "the interpreter's worker ended unexpectedly" };
}

function classifyExit(exit: ProcessExit): SandboxExit {
  if (/out of memory|memory allocation failed/i.test(exit.stderr)) return { cause: "memory_limit", detail: "the sandbox ran out of memory" };
  if (/call stack|stack overflow/i.test(exit.stderr)) return { cause: "stack_overflow", detail: "the sandbox overflowed its stack" };
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  return { cause: "crashed", detail: `the sandbox process ended unexpectedly (${how}) ${exit.stderr.trim().split("\n").slice(-1)[0] ?? ""}`.trim() };
}

/** A tool_request's arguments ([positional, keyword] as JSON text, its size checked by the guest's schema), or null. */
function toolArguments(text: string): Pick<ToolCall, "args" | "kwargs"> | null {
  // Depth too: the arguments go on to clients, whose parsers recurse.
  const parsed = parseJson(text);
  if (!parsed.ok) return null;
  const { value } = parsed;
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [args, kwargs] = value as [unknown, unknown];
  if (!Array.isArray(args) || typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) return null;
  return { args, kwargs: kwargs as Record<string, unknown> };
}
