// One cell's life, the same for every door and for a stateless POST /execute: the tenant's
// running-cells quota, the sandbox it runs in, the llm_query scope, metrics, logs and outcome.
import type { ErrorCode, LocalsMode, SessionLimits, StreamName } from "../../protocol/index.ts";
import type { LlmGateway } from "../llm/gateway.ts";
import { codeFields, type Logger } from "../log.ts";
import type { CellOutcome, SessionMetrics } from "./session-metrics.ts";
import { PoolTimeout } from "../sandbox/pool.ts";
import type { CellRequest, CellResult } from "../sandbox/sandbox.ts";
import { QuotaExceeded, type CellGate } from "../tenancy/quotas.ts";

/** How work ended: its result, or the error that refused it. */
export type Outcome = { result: CellResult } | { error: Refusal };

export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** Work that may not run, and why (thrown while preparing its sandbox). */
export class CellRefused extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Where a cell runs: a session's interpreter, or a sandbox of its own. */
export interface CellRunner {
  execute(request: CellRequest): Promise<CellResult>;
}

/** What every cell of one owner shares. */
export interface CellParts {
  tenant: string;
  /** null for a stateless request. */
  sessionId: string | null;
  gate: CellGate;
  llm: LlmGateway;
  metrics: SessionMetrics;
  log: Logger;
  /** LOG_CODE: cell_finished carries the code (capped). */
  logCode: boolean;
}

export interface Cell {
  /** The client's id for it; null for a stateless request. */
  id: string | null;
  code: string;
  timeoutMs: number;
  locals: LocalsMode;
  /** performance.now() when it was accepted: the wait until it starts is measured from here. */
  queuedAt: number;
  onOutput?: (name: StreamName, text: string) => void;
  onDisplay?: CellRequest["onDisplay"];
  /** Answers the cell's input() calls; without it, input() fails at once. */
  input?: CellRequest["input"];
  /** Answers the cell's tool calls; without it, a tool call fails at once. */
  tool?: CellRequest["tool"];
}

/**
 * Runs a cell once the quota admits it, in the runner `prepare` gives (which may throw
 * CellRefused or PoolTimeout); `onStarted` is told when it starts. Resolves with the result, or
 * with the error that refused the cell; never throws.
 */
export async function runCell(parts: CellParts, cell: Cell, prepare: () => Promise<CellRunner>, onStarted: () => void = () => {}): Promise<Outcome> {
  const { tenant, gate, metrics, log } = parts;
  try {
    gate.start();
  } catch (error) {
    if (!(error instanceof QuotaExceeded)) throw error;
    return refuseCell(parts, cell, { code: "quota_exceeded", message: error.message });
  }
  try {
    onStarted();
    const runner = await prepare();
    const started = performance.now();
    metrics.cellStarted(tenant, (started - cell.queuedAt) / 1000);
    const { code, timeoutMs, locals, onOutput, onDisplay, input, tool } = cell;
    const result = await parts.llm.forCell((llm) => runner.execute({ code, timeoutMs, locals, llm, onOutput, onDisplay, input, tool }));
    const seconds = (performance.now() - started) / 1000;
    const outcome = cellOutcome(result);
    metrics.cell(tenant, outcome, seconds);
    log.info("cell_finished", { session_id: parts.sessionId, tenant, cell_id: cell.id, duration_ms: Math.round(seconds * 1000), outcome, ...codeFields(code, parts.logCode) });
    return { result };
  } catch (error) {
    return refuseCell(parts, cell, refusalFor(error, parts, cell.id));
  } finally {
    gate.finish();
  }
}

/** A cell that will not run: counted and logged as refused. */
export function refuseCell(parts: Pick<CellParts, "tenant" | "sessionId" | "metrics" | "log">, cell: Pick<Cell, "id">, refusal: Refusal): Outcome {
  parts.metrics.cell(parts.tenant, "refused");
  parts.log.info("cell_refused", { session_id: parts.sessionId, tenant: parts.tenant, cell_id: cell.id, outcome: "refused", error_code: refusal.code });
  return { error: refusal };
}

/** Why work failed to run, as its client hears it: a full pool is busy, anything else a failed sandbox (logged). */
export function refusalFor(error: unknown, parts: Pick<CellParts, "tenant" | "sessionId" | "log">, id: string | null): Refusal {
  if (error instanceof CellRefused) return { code: error.code, message: error.message };
  parts.log.error("operation_failed", { session_id: parts.sessionId, tenant: parts.tenant, cell_id: id, error: (error as Error).message });
  if (error instanceof PoolTimeout) return { code: "busy", message: error.message };
  return { code: "sandbox_failed", message: `the sandbox could not run this: ${(error as Error).message}; retry, and report it if it persists` };
}

/** A cell's deadline: the one asked for (seconds), else EXECUTION_TIMEOUT, never past MAX_EXECUTION_TIMEOUT. */
export function cellTimeoutMs(limits: Pick<SessionLimits, "execution_timeout" | "max_execution_timeout">, seconds: number | undefined): number {
  return Math.min(seconds ?? limits.execution_timeout, limits.max_execution_timeout) * 1000;
}

/** How a cell that ran (or was interrupted before it could) ended. */
export function cellOutcome(result: CellResult): CellOutcome {
  if (result.success) return "ok";
  if (!result.state_preserved) return "killed";
  if (result.error?.type === "TimeoutError") return "timeout";
  // An interrupt from a client (or one that arrived before the cell started).
  return result.error?.type === "KeyboardInterrupt" ? "cancelled" : "error";
}
