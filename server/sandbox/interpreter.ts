// One session's Python interpreter as the session sees it: persistent across cells, and still
// there after its sandbox dies (a kill, a crash, a reset): the next cell runs on a fresh one.
import type { CellError } from "./ipc.ts";
import { resultWithoutRun, type CellRequest, type CellResult, type Sandbox, type SandboxExit } from "./sandbox.ts";

export interface SandboxSource {
  take(): Promise<Sandbox>;
}

export class Interpreter {
  private current: Promise<Sandbox> | null = null;
  /** `current` once it has resolved. */
  private settled: Sandbox | null = null;
  private closed = false;
  /** A cell is waiting for a sandbox (a boot after a kill, or an empty pool). */
  private starting = false;
  private interruptedWhileStarting = false;

  constructor(
    private readonly source: SandboxSource,
    /** Told when a sandbox of this interpreter ends other than by close or reset. */
    private readonly onSandboxExit: (exit: SandboxExit) => void = () => {},
  ) {}

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
    return sandbox.execute(request);
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

  /** A fresh interpreter for the same session: every variable is dropped. */
  async reset(): Promise<void> {
    const previous = this.current;
    this.current = null;
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
      const taking = this.source.take();
      this.current = taking;
      this.settled = null;
      taking.then(
        (sandbox) => {
          if (this.current !== taking) return;
          this.settled = sandbox;
          void sandbox.exited.then((exit) => {
            if (exit.cause !== "closed") this.onSandboxExit(exit);
          });
        },
        () => {
          if (this.current === taking) this.current = null;
        },
      );
    }
    return this.current;
  }
}
