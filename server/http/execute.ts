// POST /execute, the original guide's HTTP API: {code, context, timeout, session_id?} in,
// {success, stdout, stderr, locals, execution_time, error} out. Without session_id the code runs
// in a fresh sandbox that is discarded after; with one, in that persistent session.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseJson } from "../../protocol/json.ts";
import { fieldProblem, jsonObject, optional, positive, string } from "../../protocol/schema.ts";
import type { Identity } from "../auth/identity.ts";
import type { SessionLimits } from "../../protocol/index.ts";
import type { LlmService } from "../llm/service.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { SandboxSource } from "../sandbox/interpreter.ts";
import type { CellResult, Sandbox } from "../sandbox/sandbox.ts";
import { CellRefused, cellTimeoutMs, runCell, type CellParts, type Outcome } from "../sessions/cell.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { TenantQuotas } from "../tenancy/quotas.ts";
import { readBody } from "./body.ts";
import { sendError, sendJson } from "./responses.ts";

export interface ExecuteContext {
  registry: SessionRegistry;
  quotas: TenantQuotas;
  sandboxes: { sourceFor(owner: Pick<Identity, "tenant" | "user">): SandboxSource };
  llm: LlmService;
  log: Logger;
  metrics: Metrics;
  /** LOG_CODE. */
  logCode: boolean;
  maxBodyBytes: number;
  /** A cell's default and longest timeouts. */
  limits: Pick<SessionLimits, "execution_timeout" | "max_execution_timeout">;
  /** The request came from another server: never forward it again. */
  forwarded: boolean;
  /** Passes the request, whose body was read, to the server holding its session. */
  forward(owner: HeldElsewhere, body: Buffer): Promise<void>;
}

interface ExecuteBody {
  code: string;
  context?: Record<string, unknown>;
  timeout?: number;
  session_id?: string;
}

const BODY = { code: string, context: optional(jsonObject), timeout: optional(positive), session_id: optional(string) };

export async function handleExecute(request: IncomingMessage, response: ServerResponse, caller: Identity, context: ExecuteContext): Promise<void> {
  let body;
  try {
    body = await readBody(request, context.maxBodyBytes);
  } catch (error) {
    // The client went away mid-body: there is no one to answer, and nothing failed here.
    if (request.destroyed) return;
    throw error;
  }
  if (body === null) return sendError(response, "too_large", `the request body is over ${context.maxBodyBytes} bytes (MAX_FRAME_BYTES)`);
  const json = parseJson(body.toString("utf8"));
  if (!json.ok) return sendError(response, "bad_request", `the body ${json.message}; send {"code": "...", "context": {}, "timeout": 30}`);
  const parsed = json.value;
  if (jsonObject(parsed)) return sendError(response, "bad_request", "the body must be a JSON object with a \"code\" field");
  const problem = fieldProblem(parsed as Record<string, unknown>, BODY);
  if (problem) return sendError(response, "bad_request", problem);
  const { code, context: vars = {}, timeout, session_id } = parsed as ExecuteBody;
  let outcome: Outcome;
  try {
    outcome = session_id === undefined ? await runOnce(caller, code, vars, timeout, context) : await (await context.registry.find(session_id, caller, context.forwarded)).run(code, timeout, vars);
  } catch (error) {
    if (error instanceof HeldElsewhere) return context.forward(error, body);
    throw error;
  }
  if ("error" in outcome) return sendError(response, outcome.error.code, outcome.error.message);
  // A Python error or a timeout is an answer, not a failed request: clients must not retry it.
  sendJson(response, 200, guideShape(outcome.result));
}

/** A cell in a sandbox of its own, discarded after. */
async function runOnce(caller: Identity, code: string, vars: Record<string, unknown>, timeout: number | undefined, context: ExecuteContext): Promise<Outcome> {
  const { quotas, metrics, log } = context;
  const parts: CellParts = {
    tenant: caller.tenant,
    sessionId: null,
    gate: quotas.cellGate(caller.tenant, quotas.limitsFor(caller)),
    llm: context.llm.forSession(caller),
    metrics,
    log,
    logCode: context.logCode,
  };
  let sandbox: Sandbox | undefined;
  const prepare = async () => {
    sandbox = await context.sandboxes.sourceFor(caller).take();
    const refused = Object.keys(vars).length > 0 ? await sandbox.setVars(vars) : null;
    if (refused) throw new CellRefused("bad_request", `context: ${refused.message}`);
    return sandbox;
  };
  try {
    return await runCell(parts, { id: null, code, timeoutMs: cellTimeoutMs(context.limits, timeout), locals: "all", queuedAt: performance.now() }, prepare);
  } finally {
    void sandbox?.close();
  }
}

function guideShape(result: CellResult) {
  const { error } = result;
  return {
    success: result.success,
    stdout: result.stdout,
    stderr: result.stderr,
    locals: result.locals ?? {},
    execution_time: result.execution_time,
    // The guide's clients read a string: the traceback, or "Type: message" when there is none.
    error: error === null ? null : error.traceback || `${error.type}: ${error.message}`,
    value: result.value,
    final_answer: result.final_answer,
    rlm_calls: result.rlm_calls,
  };
}
