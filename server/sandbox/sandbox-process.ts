// One sandbox process seen from the host: a Deno process that hosts interpreters of one identity,
// each on a worker of its own (see guest/main.ts). Interpreters come and go; the process stays,
// with Pyodide compiled and the base snapshot loaded, so a fresh interpreter costs a worker's
// start instead of a process's. Each interpreter is a channel: its frames, its kill, its end.
// The process watches its resident memory against what its interpreters may use together.
import { readFile } from "node:fs/promises";
import { GuestProcess, type ProcessExit } from "./guest-process.ts";
import type { GuestMessage, HostMessage, InterpreterSettings, ProcessSettings } from "./ipc.ts";
import { launchCommand, type RuntimeFiles } from "./launch.ts";

export interface ProcessLimits {
  /** Each interpreter's WebAssembly heap cap. */
  memoryMb: number;
  /** Each worker's V8 heap; past it V8 aborts the whole process. */
  jsHeapMb: number;
  /** Resident memory the process may use beyond its interpreters' caps before it is killed. */
  watchdogHeadroomMb: number;
  /** Each cell's output cap: what an interpreter may send is bounded by it (see guest-messages.ts). */
  maxOutputBytes: number;
  /** The largest wheel a session may install of its own (PACKAGE_MAX_WHEEL_MB). */
  maxWheelBytes: number;
}

export interface ProcessEnvironment {
  files: RuntimeFiles;
  snapshotPath: string;
  limits: ProcessLimits;
  /** "build" hosts one interpreter that makes the base snapshot. */
  mode?: ProcessSettings["mode"];
  /** How long the process may stay silent with a worker's kill unconfirmed (see SandboxProcess.kill); KILL_CONFIRM_MS unless a test shortens it. */
  killConfirmMs?: number;
}

/** Why the host killed a whole process: what every interpreter in it is told. */
export interface ProcessKill {
  cause: "memory_limit" | "unresponsive" | "closed";
  detail: string;
}

/** How an interpreter's channel ended. */
export interface ChannelEnd {
  /** The whole process ended (with every interpreter in it); null when this worker alone did. */
  process: ProcessExit | null;
  /**
   * Set when the host killed the process itself (its memory, a kill it did not confirm, a
   * close): why. A process that ends without it ended on its own.
   */
  killed: ProcessKill | null;
  /** Set when this interpreter sent a message that does not fit the protocol. */
  protocolViolation: string | null;
}

/** One interpreter as its Sandbox talks to it. */
export interface InterpreterChannel {
  readonly pid: number | undefined;
  readonly ended: Promise<ChannelEnd>;
  /** While set, the interpreter holds a copy of its heap (a snapshot on its way out): the watchdog allows for it. */
  readonly snapshotting: boolean;
  /**
   * Asks the interpreter for a snapshot once no other interpreter of the process is taking one
   * (see SandboxProcess.requestSnapshot); `sent` is told when the request goes out, which is
   * when its deadline may start. The answer comes to the channel's frame handler.
   */
  requestSnapshot(sent: () => void): void;
  /** Its snapshot (or why there is none) arrived: the next interpreter's may go. */
  snapshotAnswered(): void;
  send(message: HostMessage, body?: Uint8Array): void;
  /** Stops the interpreter's worker; `ended` resolves once it is gone. */
  kill(): void;
}

type FrameHandler = (message: GuestMessage, body: Uint8Array | null) => void;

const WATCHDOG_INTERVAL_MS = 250;
/**
 * A worker whose kill is unconfirmed while its process sends and reads nothing for this long
 * (terminating one takes milliseconds) means the process does not answer: it is killed whole.
 */
const KILL_CONFIRM_MS = 1000;
const PAGE_BYTES = 4096;
// What the watchdog allows besides the interpreters' heap caps and the headroom, measured: a
// process with Pyodide compiled and the base snapshot loaded; each interpreter's JavaScript side
// (its isolate, Pyodide's glue, the standard library in its file system).
const PROCESS_BASE_MB = 192;
const INTERPRETER_OVERHEAD_MB = 96;

class Channel implements InterpreterChannel {
  snapshotting = false;
  /** Its kill was sent: it is waiting for the process to confirm it. */
  killed = false;
  /** The process said it has ended (or the process itself has). */
  done = false;
  readonly ended: Promise<ChannelEnd>;
  private finish!: (end: ChannelEnd) => void;
  violation: string | null = null;

  constructor(
    readonly worker: number,
    private readonly owner: SandboxProcess,
    readonly onFrame: FrameHandler,
  ) {
    this.ended = new Promise((resolve) => (this.finish = resolve));
  }

  get pid(): number | undefined {
    return this.owner.pid;
  }

  send(message: HostMessage, body?: Uint8Array): void {
    this.owner.deliver({ ...message, worker: this.worker }, body);
  }

  kill(): void {
    this.owner.kill(this.worker);
  }

  requestSnapshot(sent: () => void): void {
    this.owner.requestSnapshot(this, sent);
  }

  snapshotAnswered(): void {
    this.owner.snapshotAnswered(this);
  }

  end(end: Omit<ChannelEnd, "protocolViolation">): void {
    this.done = true;
    this.finish({ ...end, protocolViolation: this.violation });
  }
}

export class SandboxProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly guest: GuestProcess;
  private readonly channels = new Map<number, Channel>();
  private readonly watchdog: NodeJS.Timeout;
  private nextWorker = 0;
  private retiring = false;
  /** Set once the host kills the process itself: why (the first reason wins). */
  private killedFor: ProcessKill | null = null;
  /** The interpreter whose snapshot the process is taking, and those waiting their turn (see requestSnapshot). */
  private snapshotTaker: Channel | null = null;
  private readonly snapshotQueue: Array<{ channel: Channel; sent: () => void }> = [];
  private readonly killConfirmMs: number;
  /** Bytes on its pipe that were no frame of its own: which interpreter wrote them cannot be known. */
  private violation: string | null = null;
  private ended = false;

  constructor(private readonly env: ProcessEnvironment) {
    const { limits } = env;
    this.killConfirmMs = env.killConfirmMs ?? KILL_CONFIRM_MS;
    this.guest = new GuestProcess(
      launchCommand(env.files, limits.jsHeapMb, {
        mode: env.mode ?? "serve",
        indexURL: env.files.pyodideDir,
        snapshotPath: env.snapshotPath,
        packagesDir: env.files.packagesDir,
        maxWheelBytes: limits.maxWheelBytes,
      }),
      { maxOutputBytes: limits.maxOutputBytes, heapBytes: limits.memoryMb * 1024 * 1024 },
      ({ worker, message }, body) => this.receive(worker, message, body),
      (error) => {
        // The process's own frames are broken: none of its interpreters can be trusted.
        this.violation ??= error.message;
        this.guest.kill();
      },
      (worker, problem) => this.invalid(worker, problem),
    );
    this.watchdog = setInterval(() => void this.checkMemory(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
    this.exited = this.guest.exited.then((exit) => {
      this.ended = true;
      clearInterval(this.watchdog);
      for (const channel of this.channels.values()) {
        channel.violation ??= this.violation;
        channel.end({ process: exit, killed: this.killedFor });
      }
      this.channels.clear();
      return exit;
    });
  }

  get pid(): number | undefined {
    return this.guest.pid;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Grows while the process shows it is working: as bytes arrive from it, as it reads what waited for it (see GuestProcess.activity). */
  get activity(): number {
    return this.guest.activity;
  }

  /** Interpreters running (or starting) in it now. */
  get interpreters(): number {
    return this.channels.size;
  }

  /** Interpreters it has started in all. */
  get started(): number {
    return this.nextWorker;
  }

  /** Whether it still takes new interpreters (see retire). */
  get open(): boolean {
    return !this.ended && !this.retiring;
  }

  /** Starts an interpreter: fresh from the base snapshot, or from `snapshot` (a session's). */
  start(settings: Omit<InterpreterSettings, "restore">, onFrame: FrameHandler, snapshot?: Uint8Array): InterpreterChannel {
    if (!this.open) throw new Error("the sandbox process takes no new interpreters");
    const channel = new Channel(this.nextWorker++, this, onFrame);
    this.channels.set(channel.worker, channel);
    this.guest.send({ type: "spawn", worker: channel.worker, restore: snapshot !== undefined, ...settings }, snapshot);
    return channel;
  }

  /** Takes no new interpreters, and ends once the last one has. */
  retire(): void {
    this.retiring = true;
    if (this.channels.size === 0) this.terminate(RETIRED);
  }

  /** Ends the process and every interpreter in it; resolves once it has exited. */
  async close(): Promise<ProcessExit> {
    this.retiring = true;
    this.terminate({ cause: "closed", detail: "the server closed its sandbox process, with every interpreter in it" });
    return this.exited;
  }

  /** Resident and proportional memory of the process, from /proc (Linux). */
  async memory(): Promise<{ rssBytes: number; pssBytes: number } | null> {
    try {
      const rollup = await readFile(`/proc/${this.pid}/smaps_rollup`, "utf8");
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0) * 1024;
      return { rssBytes: field("Rss"), pssBytes: field("Pss") };
    } catch {
      return null;
    }
  }

  /** @internal Channel.send. */
  deliver(frame: Parameters<GuestProcess["send"]>[0], body?: Uint8Array): void {
    if (this.channels.has((frame as { worker: number }).worker)) this.guest.send(frame, body);
  }

  /**
   * @internal Channel.kill. The process's main thread ends the worker and confirms it with an
   * `exited` frame; a worker stuck in Python ends all the same (terminating a worker does not
   * wait for it). Unconfirmed, the process itself does not answer, and is killed whole; but how
   * long the confirmation takes is no sign of that: the kill is read after whatever the host sent
   * before it, and `exited` is written after whatever the main thread was writing, such as
   * another interpreter's snapshot (45 MB for a fresh one, up to the heap cap), which a loaded
   * machine moves in seconds, the host reading it in 64 KiB pieces between its other work. A
   * clock started at the kill killed such a busy process, with every interpreter in it. What
   * says a process hangs is silence: it is killed once it has neither sent nor read anything
   * for killConfirmMs while the kill waits (see GuestProcess.activity). A main thread that
   * relays frames also reads the host's between them, so one that keeps sending gets to the kill.
   */
  kill(worker: number): void {
    const channel = this.channels.get(worker);
    if (!channel || channel.killed) return;
    channel.killed = true;
    this.dropSnapshotRequest(channel);
    this.guest.send({ type: "kill", worker });
    let seen = this.guest.activity;
    let timer: NodeJS.Timeout | null = null;
    let again: NodeJS.Immediate | null = null;
    const wait = () => (timer = setTimeout(check, this.killConfirmMs).unref());
    const active = (): boolean => {
      if (this.guest.activity === seen) return false;
      seen = this.guest.activity;
      return true;
    };
    const check = () => {
      if (channel.done) return;
      if (active()) return void wait();
      // The silence may be the host's own: a timer due while its event loop was busy fires
      // before that loop reads what came meanwhile. Look again once it has.
      again = setImmediate(() => {
        if (channel.done) return;
        if (active()) return void wait();
        this.terminate({ cause: "unresponsive", detail: `it did not confirm the end of one of its interpreters, and sent and read nothing for ${this.killConfirmMs} ms; it was killed, with every interpreter in it` });
      }).unref();
    };
    wait();
    void channel.ended.then(() => {
      if (timer) clearTimeout(timer);
      if (again) clearImmediate(again);
    });
  }

  /**
   * @internal Channel.requestSnapshot. A process takes one snapshot at a time: the workers
   * would copy their heaps side by side (twice the memory: see checkMemory), and its main
   * thread writes one to the host before it starts the next, so the second waited for the
   * first. A snapshot's deadline (Sandbox.snapshot) is for the interpreter that makes it: one
   * counted from a request that waited behind others counted their snapshots too, and a
   * loaded machine took them for hung. So the next request goes out once the one before has
   * been answered (or its interpreter has ended), and its deadline starts then.
   */
  requestSnapshot(channel: Channel, sent: () => void): void {
    if (!this.channels.has(channel.worker) || channel.killed) return; // its end settles it
    this.snapshotQueue.push({ channel, sent });
    this.nextSnapshot();
  }

  /** @internal Channel.snapshotAnswered. */
  snapshotAnswered(channel: Channel): void {
    channel.snapshotting = false;
    this.dropSnapshotRequest(channel);
    if (this.snapshotTaker !== channel) return;
    this.snapshotTaker = null;
    this.nextSnapshot();
  }

  private nextSnapshot(): void {
    if (this.snapshotTaker || this.ended) return;
    const next = this.snapshotQueue.shift();
    if (!next) return;
    this.snapshotTaker = next.channel;
    next.channel.snapshotting = true;
    next.sent();
    this.guest.send({ type: "snapshot", worker: next.channel.worker });
  }

  private dropSnapshotRequest(channel: Channel): void {
    const index = this.snapshotQueue.findIndex((request) => request.channel === channel);
    if (index !== -1) this.snapshotQueue.splice(index, 1);
  }

  private receive(worker: number, message: GuestMessage, body: Uint8Array | null): void {
    const channel = this.channels.get(worker);
    if (!channel) return; // a frame the worker sent before its kill reached it
    if (message.type !== "exited") return channel.onFrame(message, body);
    this.channels.delete(worker);
    this.dropSnapshotRequest(channel);
    channel.end({ process: null, killed: null });
    // A killed interpreter may have been taking its snapshot: it is gone now, the next may go.
    if (this.snapshotTaker === channel) {
      this.snapshotTaker = null;
      this.nextSnapshot();
    }
    if (this.retiring && this.channels.size === 0) this.terminate(RETIRED);
  }

  /** Kills the process, and says why to every interpreter in it. */
  private terminate(reason: ProcessKill): void {
    this.killedFor ??= reason;
    this.guest.kill();
  }

  /** An interpreter whose Python made its worker send what the protocol does not allow. */
  private invalid(worker: number, problem: string): void {
    const channel = this.channels.get(worker);
    if (!channel) return;
    channel.violation ??= problem;
    channel.kill();
  }

  private async checkMemory(): Promise<void> {
    if (this.ended) return;
    let statm: string;
    try {
      statm = await readFile(`/proc/${this.pid}/statm`, "utf8");
    } catch {
      return; // not Linux, or already gone
    }
    const { memoryMb, watchdogHeadroomMb } = this.env.limits;
    // A snapshot holds a copy of the heap until it is sent: up to the cap more, for a moment.
    let allowedMb = PROCESS_BASE_MB + watchdogHeadroomMb;
    for (const channel of this.channels.values()) allowedMb += INTERPRETER_OVERHEAD_MB + memoryMb * (channel.snapshotting ? 2 : 1);
    const rss = Number(statm.split(" ")[1]) * PAGE_BYTES;
    const limit = allowedMb * 1024 * 1024;
    if (rss > limit && this.killedFor === null) this.terminate({ cause: "memory_limit", detail: `resident memory ${mib(rss)} MiB exceeded ${mib(limit)} MiB` });
  }
}

/** A retired process ends once its last interpreter has: there is none left to tell. */
const RETIRED: ProcessKill = { cause: "closed", detail: "the server retired its sandbox process" };

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
