// POST /execute, the original guide's HTTP API: {code, context, timeout, session_id?} in,
// {success, stdout, stderr, locals, execution_time, error} out. Without session_id the code runs
// in a fresh sandbox that is discarded after (given `env`, if any); with one, in that persistent
// session. Either way `files` are written into the working directory first, and what the code
// leaves in outputs/ comes back as `files` (execute-files.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseJson } from "../../protocol/json.ts";
import { fieldProblem, jsonObject, optional, positive, string } from "../../protocol/schema.ts";
import type { Identity } from "../auth/identity.ts";
import type { SessionLimits } from "../../protocol/index.ts";
import type { LlmService } from "../llm/service.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { SandboxSource } from "../sandbox/interpreter.ts";
import { SandboxGone, type CellResult, type Sandbox } from "../sandbox/sandbox.ts";
import { CellRefused, cellTimeoutMs, runCell, type CellParts, type Outcome } from "../sessions/cell.ts";
import { environmentProblem, type Environment } from "../sessions/environment.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import { performFile } from "../sessions/files.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { TenantQuotas } from "../tenancy/quotas.ts";
import { readBody } from "./body.ts";
import { inputFiles, NO_OUTPUTS, readOutputs, writeInputs, type Outputs, type PerformFile } from "./execute-files.ts";
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
  /** MAX_FILE_BYTES: each file the request brings, and the files of outputs/ it answers with, together. */
  maxFileBytes: number;
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
  files?: Record<string, unknown>;
  env?: Environment;
}

const BODY = { code: string, context: optional(jsonObject), timeout: optional(positive), session_id: optional(string), files: optional(jsonObject), env: optional(jsonObject) };

/** What a request runs, once its body is read and checked. */
interface Run {
  code: string;
  vars: Record<string, unknown>;
  timeout: number | undefined;
  files: [string, Uint8Array][];
}

/** How a request ended: the cell's outcome, and the files it left in outputs/. */
interface Ran {
  outcome: Outcome;
  outputs: Outputs;
}

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
  const { code, context: vars = {}, timeout, session_id, files: given = {}, env } = parsed as ExecuteBody;
  const files = inputFiles(given);
  if ("problem" in files) return sendError(response, "bad_request", files.problem);
  if (env !== undefined && session_id !== undefined) return sendError(response, "bad_request", "env is given when a session opens (POST /v1/sessions); a persistent session keeps its own");
  const envProblem = env === undefined ? null : environmentProblem(env);
  if (envProblem) return sendError(response, "bad_request", envProblem);
  const run: Run = { code, vars, timeout, files: files.files };
  let ran: Ran;
  try {
    ran = session_id === undefined ? await runOnce(caller, run, env ?? {}, context) : await runInSession(caller, session_id, run, context);
  } catch (error) {
    if (error instanceof HeldElsewhere) return context.forward(error, body);
    throw error;
  }
  const { outcome, outputs } = ran;
  if ("error" in outcome) return sendError(response, outcome.error.code, outcome.error.message);
  // A Python error or a timeout is an answer, not a failed request: clients must not retry it.
  sendJson(response, 200, { ...guideShape(outcome.result), files: outputs.files, files_omitted: outputs.omitted });
}

/** In a persistent session: its files are written, its cell run and its outputs read as its queued work, in that order. */
async function runInSession(caller: Identity, id: string, { code, vars, timeout, files }: Run, context: ExecuteContext): Promise<Ran> {
  const session = await context.registry.find(id, caller, context.forwarded);
  const perform: PerformFile = (command) => session.files(command);
  const refused = await writeInputs(perform, files);
  if (refused) return { outcome: { error: refused }, outputs: NO_OUTPUTS };
  const outcome = await session.run(code, timeout, vars);
  return { outcome, outputs: "error" in outcome ? NO_OUTPUTS : await readOutputs(perform, context.maxFileBytes) };
}

/** A cell in a sandbox of its own, discarded after. */
async function runOnce(caller: Identity, { code, vars, timeout, files }: Run, env: Environment, context: ExecuteContext): Promise<Ran> {
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
  const perform: PerformFile = (command) => performFile(sandbox!, command, context.maxFileBytes);
  const prepare = async () => {
    sandbox = await context.sandboxes.sourceFor(caller).take();
    const refusedEnv = Object.keys(env).length > 0 ? await sandbox.setEnv(env) : null;
    if (refusedEnv) throw new CellRefused("bad_request", `env: ${refusedEnv.message}`);
    const refused = Object.keys(vars).length > 0 ? await sandbox.setVars(vars) : null;
    if (refused) throw new CellRefused("bad_request", `context: ${refused.message}`);
    const refusedFile = await writeInputs(perform, files);
    if (refusedFile) throw new CellRefused(refusedFile.code, refusedFile.message);
    return sandbox;
  };
  try {
    const outcome = await runCell(parts, { id: null, code, timeoutMs: cellTimeoutMs(context.limits, timeout), locals: "all", queuedAt: performance.now() }, prepare);
    return { outcome, outputs: "error" in outcome ? NO_OUTPUTS : await readOutputs(perform, context.maxFileBytes).catch(killed) };
  } finally {
    void sandbox?.close();
  }
}

/** A sandbox killed at its cell's deadline left no files to read. */
function killed(error: unknown): Outputs {
  if (error instanceof SandboxGone) return NO_OUTPUTS;
  throw error;
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
