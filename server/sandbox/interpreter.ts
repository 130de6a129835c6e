// One session's Python interpreter as the session sees it: persistent across cells, and still
// there after its sandbox dies (a kill, a crash, a reset): the next cell runs on a fresh one,
// given the session's environment variables and its clients' tools again. It can hibernate: its snapshot is kept
// elsewhere and its sandbox freed; the next use wakes it from the snapshot with every variable
// and every file of its working directory.
import type { ToolSpec } from "../../protocol/index.ts";
import type { CellError, FileRequest } from "./ipc.ts";
import { resultWithoutRun, type CellRequest, type CellResult, type FileAnswer, type IntrospectReply, type IntrospectRequest, type Sandbox, type SandboxExit } from "./sandbox.ts";

export interface SandboxSource {
  take(): Promise<Sandbox>;
  /** A sandbox booted from a session's snapshot. */
  restore(snapshot: Uint8Array): Promise<Sandbox>;
}

/** Fetches a hibernated interpreter's snapshot back. */
export type SnapshotLoader = () => Promise<Uint8Array>;

export class Interpreter {
  private current: Promise<Sandbox> | null = null;
  /** `current` once it has resolved. */
  private settled: Sandbox | null = null;
  private closed = false;
  /** A cell is waiting for a sandbox (a boot after a kill, or an empty pool). */
  private starting = false;
  private interruptedWhileStarting = false;
  /** A sandbox died between cells: the next result must say the state is gone. */
  private unreportedLoss = false;
  /** Set while hibernated: where the next sandbox comes from. */
  private wakeFrom: SnapshotLoader | null;
  /** The tools the session's clients declared last: every fresh sandbox gets them (a snapshot carries its own). */
  private tools: readonly ToolSpec[] = [];

  constructor(
    private readonly source: SandboxSource,
    /** Told when a sandbox of this interpreter ends other than by close or reset. */
    private readonly onSandboxExit: (exit: SandboxExit) => void = () => {},
    /** Given for an interpreter that starts hibernated (a session woken from the store). */
    hibernated: SnapshotLoader | null = null,
    /** os.environ additions for every fresh sandbox (a snapshot carries its own). */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {
    this.wakeFrom = hibernated;
  }

  get hibernated(): boolean {
    return this.wakeFrom !== null;
  }

  /** Holds no state at all: it never ran anything since it began (or was reset). */
  get empty(): boolean {
    return this.current === null && this.wakeFrom === null;
  }

  /**
   * Snapshots the live sandbox, hands the snapshot to `persist` (which returns how to load it
   * back), and frees the sandbox. Throws, leaving the interpreter live, when the snapshot cannot
   * be taken or kept.
   */
  async hibernate(persist: (snapshot: Uint8Array) => Promise<SnapshotLoader>): Promise<void> {
    const sandbox = this.live;
    if (!sandbox) throw new Error("there is no live interpreter to hibernate");
    const loader = await persist(await sandbox.snapshot());
    if (this.settled !== sandbox || !sandbox.alive || sandbox.busy) throw new Error("the interpreter was used while it was being hibernated");
    this.current = null;
    this.settled = null;
    this.wakeFrom = loader;
    await sandbox.close();
  }

  /** A snapshot of the live sandbox, which keeps running (a checkpoint). */
  async snapshot(): Promise<Uint8Array> {
    const sandbox = this.live;
    if (!sandbox) throw new Error("there is no live interpreter to snapshot");
    return sandbox.snapshot();
  }

  /** Runs a cell; a result with state_preserved false means the next cell starts from nothing. */
  async execute(request: CellRequest): Promise<CellResult> {
    this.starting = true;
    this.interruptedWhileStarting = false;
    let sandbox: Sandbox;
    try {
      sandbox = await this.sandbox();
    } finally {
      this.starting = false;
    }
    if (this.interruptedWhileStarting) {
      return resultWithoutRun({ type: "KeyboardInterrupt", message: "interrupted before it started running", traceback: "" }, true);
    }
    const result = await sandbox.execute(request);
    if (!this.unreportedLoss) return result;
    this.unreportedLoss = false;
    return { ...result, state_preserved: false };
  }

  /** Interrupts the running cell, if any, including one still waiting for its sandbox. */
  interrupt(): boolean {
    if (this.live?.interrupt()) return true;
    if (this.starting) this.interruptedWhileStarting = true;
    return this.starting;
  }

  async setVars(vars: Record<string, unknown>): Promise<CellError | null> {
    const sandbox = await this.sandbox();
    return sandbox.setVars(vars);
  }

  /** Declares the clients' tools, here and in every fresh sandbox from now on. */
  async setTools(tools: readonly ToolSpec[]): Promise<CellError | null> {
    this.tools = tools;
    const sandbox = await this.sandbox();
    return sandbox.setTools(tools);
  }

  async installWheel(filename: string, wheel: Uint8Array): Promise<CellError | null> {
    const sandbox = await this.sandbox();
    return sandbox.installWheel(filename, wheel);
  }

  async addContext(...payload: Parameters<Sandbox["addContext"]>): Promise<CellError | null> {
    const sandbox = await this.sandbox();
    return sandbox.addContext(...payload);
  }

  /** A file request on the working directory of the interpreter's sandbox, between cells (see Sandbox.file). */
  async file(request: FileRequest, body?: Uint8Array): Promise<FileAnswer> {
    const sandbox = await this.sandbox();
    return sandbox.file(request, body);
  }

  /** Completion, inspection, is-complete: on the interpreter's sandbox, between cells (see Sandbox.introspect). */
  async introspect(request: IntrospectRequest): Promise<IntrospectReply> {
    const sandbox = await this.sandbox();
    return sandbox.introspect(request);
  }

  /** A fresh interpreter for the same session: every variable is dropped. */
  async reset(): Promise<void> {
    const previous = this.current;
    this.current = null;
    this.wakeFrom = null;
    this.unreportedLoss = false;
    if (previous) await (await previous.catch(() => null))?.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reset();
  }

  /** The sandbox this interpreter holds now, if it has finished booting and is alive. */
  get live(): Sandbox | null {
    return this.settled?.alive ? this.settled : null;
  }

  private sandbox(): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new Error("the interpreter is closed"));
    if (this.settled && !this.settled.alive) {
      // Ended, or about to: make sure its process is gone before replacing it.
      void this.settled.close();
      this.current = null;
    }
    if (!this.current) {
      const wakeFrom = this.wakeFrom;
      this.wakeFrom = null;
      const taking = wakeFrom ? wakeFrom().then((snapshot) => this.source.restore(snapshot)) : this.source.take().then((fresh) => this.configure(fresh));
      this.current = taking;
      this.settled = null;
      taking.then(
        (sandbox) => {
          if (this.current !== taking) return;
          this.settled = sandbox;
          void sandbox.exited.then((exit) => {
            if (exit.cause === "closed") return;
            this.onSandboxExit(exit);
            if (!exit.duringCell) this.unreportedLoss = true;
          });
        },
        () => {
          if (this.current !== taking) return;
          this.current = null;
          this.wakeFrom = wakeFrom; // a failed wake may be retried; the snapshot is still stored
        },
      );
    }
    return this.current;
  }

  /** A fresh sandbox with the session's environment and tools; closed, and the failure thrown, when it refuses them. */
  private async configure(sandbox: Sandbox): Promise<Sandbox> {
    const setup: [string, () => Promise<CellError | null>][] = [];
    if (Object.keys(this.env).length > 0) setup.push(["environment", () => sandbox.setEnv(this.env)]);
    if (this.tools.length > 0) setup.push(["tools", () => sandbox.setTools(this.tools)]);
    for (const [what, apply] of setup) {
      const refused = await apply().catch((error: Error) => ({ message: error.message }));
      if (!refused) continue;
      void sandbox.close();
      throw new Error(`the sandbox refused the session's ${what}: ${refused.message}`);
    }
    return sandbox;
  }
}
