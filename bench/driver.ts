// What the end-to-end benchmark needs of a server of Python sessions, so that wasm-repl and its
// peer (Jupyter) run the very same measuring code: open a session, run cells in it, close it.
import type { LocalsMode } from "../protocol/index.ts";

export interface CellOptions {
  /** Called with each piece of the cell's standard output as it arrives. */
  onStdout?: (text: string) => void;
  /** wasm-repl's choice of which variables come back with the result; peers ignore it. */
  locals?: LocalsMode;
}

export interface DriverSession {
  /** Runs a cell and resolves once its result (and all its output) has arrived; rejects when the Python failed. */
  execute(code: string, options?: CellOptions): Promise<void>;
  close(): Promise<void>;
}

export interface Driver {
  /** As printed in the report: "wasm-repl", "jupyter". */
  readonly name: string;
  /** The server process, whose children are its interpreters (sandboxes, kernels). */
  readonly serverPid: number;
  /** The locals modes measured separately; a peer without them lists only the one it is compared on. */
  readonly localsModes: readonly LocalsMode[];
  /** Whether the server would hand out an interpreter without starting one first. */
  ready(): Promise<boolean>;
  /** A new session, resolved once the server has answered that it exists. */
  open(): Promise<DriverSession>;
  /** Stops the server and everything it started. */
  stop(): Promise<void>;
}

/** How much of each measurement to run: a slow peer gets fewer cells, never a different workload. */
export interface Plan {
  /** Opened one after another (each timed), then used for memory and throughput. */
  sessions: number;
  cellWarmup: number;
  cellBatches: number;
  cellsPerBatch: number;
  stdoutRuns: number;
  /** The first run of the fresh sessions, reported on its own. */
  throughputFreshSeconds: number;
  /** Then every session runs this many cells (counting the fresh run's), to measure a steady state. */
  throughputWarmupCellsPerSession: number;
  throughputRuns: number;
  throughputSeconds: number;
}
