// A session's way to the model: every llm_query of its cells comes here. Python has no network
// and no key; this decides the model, keeps the session's budget, records each call for the
// cell's result, and turns every failure into the "Error: ..." text the RLM library returns.
import { RLM_CALL_TEXT_CHARS, type RlmCall } from "../../protocol/index.ts";
import { ModelCallError, type ChatMessage, type ChatModel, type Completion } from "../../rlm/model.ts";
import { MODEL_NAME } from "./settings.ts";
import type { LlmRequest } from "../sandbox/ipc.ts";
import type { LlmBudget } from "./budget.ts";

/** What model calls report: which model (a bounded label), how it ended, the tokens it used. */
export interface LlmMetrics {
  llmCall(requested: string, outcome: "ok" | "error", tokens?: { prompt: number; completion: number }): void;
}

export interface LlmSettings {
  model: string;
  /** For calls at depth 1 and deeper; null: `model`. */
  subModel: string | null;
  /** rlm_query starts a child RLM while the session's depth + 1 is below this. */
  maxDepth: number;
}

/** Runs a child RLM for rlm_query (see child-rlm.ts). */
export interface ChildRlms {
  run(prompt: string, model: string | null, parent: LlmGateway, calls: RlmCall[], signal: AbortSignal): Promise<string>;
}

const NO_MODEL = "Error: the server has no LLM configured (LLM_API_KEY is not set); llm_query is unavailable";
/** The prompt and response text the records of one cell's calls carry together; later calls' text is cut to nothing. */
const CELL_CALL_TEXT_CHARS = 4 * 1024 * 1024;


export class LlmGateway {
  constructor(
    private readonly model: ChatModel | null,
    private readonly settings: LlmSettings,
    readonly budget: LlmBudget,
    /** The session's depth: 0 for a client's session, n for a child RLM n levels down. */
    readonly depth: number,
    private readonly metrics: LlmMetrics,
    private readonly children: ChildRlms,
    /** Records carry the calls' prompt and response text. */
    private readonly recordText = false,
  ) {}

  /** A gateway for a child session one level down, sharing this one's budget and record. */
  child(): LlmGateway {
    return new LlmGateway(this.model, this.settings, this.budget, this.depth + 1, this.metrics, this.children, this.recordText);
  }

  /**
   * Runs a cell with this gateway answering its llm_query calls; the result carries the calls
   * it made. Calls still in flight when the cell ends (an interrupt, a timeout) are cancelled.
   */
  async forCell<T extends object>(run: (llm: (request: LlmRequest) => Promise<string[]>) => Promise<T>): Promise<T & { rlm_calls: RlmCall[] }> {
    const calls: RlmCall[] = [];
    // Made on the first call only: aborting one costs a DOMException, too much for every cell.
    let cellEnded = null as AbortController | null;
    try {
      const result = await run((request) => this.answer(request, calls, (cellEnded ??= new AbortController()).signal));
      return { ...result, rlm_calls: calls };
    } finally {
      cellEnded?.abort();
    }
  }

  /**
   * Answers a cell's request: one text per prompt, in order, each failure its own "Error: ...".
   * Every call made is appended to `calls` (the cell's record).
   */
  async answer(request: LlmRequest, calls: RlmCall[], signal: AbortSignal): Promise<string[]> {
    if (!this.model) return request.prompts.map(() => NO_MODEL);
    const recurse = request.recursive && this.depth + 1 < this.settings.maxDepth;
    return Promise.all(
      request.prompts.map(async (prompt) => {
        if (recurse) return this.children.run(prompt, request.model, this, calls, signal).catch((error: Error) => `Error: ${error.message}`);
        const outcome = await this.complete([{ role: "user", content: prompt }], request.model, this.depth + 1, calls, signal);
        return typeof outcome === "string" ? outcome : outcome.text;
      }),
    );
  }

  /** The model a call at `depth` uses: the one asked for, else LLM_SUB_MODEL below the root, else LLM_MODEL. */
  modelFor(requested: string | null, depth: number): string {
    return requested ?? (depth >= 1 && this.settings.subModel ? this.settings.subModel : this.settings.model);
  }

  /**
   * One chat completion at `depth`, within the budget, recorded. Resolves with the completion,
   * or with the "Error: ..." text of why there is none.
   */
  async complete(messages: ChatMessage[], requested: string | null, depth: number, calls: RlmCall[], signal: AbortSignal): Promise<Completion | string> {
    if (!this.model) return NO_MODEL;
    const model = this.modelFor(requested, depth);
    if (!MODEL_NAME.test(model)) return `Error: ${JSON.stringify(model.slice(0, 140))} is not a model name`;
    const refused = this.budget.admit();
    if (refused) return `Error: ${refused}`;
    const { timeoutMs } = this.budget.limits;
    const started = performance.now();
    const release = await this.budget.slot(timeoutMs, signal);
    if (!release) {
      return signal.aborted
        ? "Error: the cell ended before the call was made"
        : `Error: no call slot freed up within the call timeout of ${timeoutMs / 1000} s (LLM_MAX_CONCURRENCY is ${this.budget.limits.maxConcurrency})`;
    }
    try {
      const completion = await this.model.complete(messages, model, signal);
      this.budget.spend(completion.promptTokens + completion.completionTokens);
      calls.push(this.record(model, depth, started, completion, messages, calls));
      return completion;
    } catch (error) {
      calls.push(this.record(model, depth, started, null, messages, calls));
      return `Error: ${describeFailure(error, timeoutMs)}`;
    } finally {
      release();
    }
  }

  private record(model: string, depth: number, started: number, completion: Completion | null, messages: ChatMessage[], calls: RlmCall[]): RlmCall {
    const tokens = completion && { prompt: completion.promptTokens, completion: completion.completionTokens };
    this.metrics.llmCall(model, completion ? "ok" : "error", tokens ?? undefined);
    return {
      model,
      prompt_tokens: tokens?.prompt ?? 0,
      completion_tokens: tokens?.completion ?? 0,
      duration: (performance.now() - started) / 1000,
      depth,
      ok: completion !== null,
      ...(this.recordText && callText(messages, completion?.text ?? "", calls)),
    };
  }
}

/** Why a call failed, in words for the Python caller; never the key or the server's settings. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof ModelCallError)) return `the LLM call failed: ${redact((error as Error)?.message ?? String(error))}`;
  switch (error.kind) {
    case "timeout":
      return `the LLM call exceeded its timeout of ${timeoutMs / 1000} s (LLM_TIMEOUT)`;
    case "cancelled":
      return "the LLM call was cancelled: the cell ended";
    case "unreachable":
      return "the LLM API could not be reached";
    case "refused":
      return `the LLM API answered ${error.status}: ${redact(error.message)}`;
  }
}

/** Providers echo parts of a rejected key ("Incorrect API key provided: sk-...ab12"). */
function redact(message: string): string {
  return message.replace(/\b(sk|key|api[_-]?key)[-_A-Za-z0-9.*]{6,}/gi, "[redacted]").slice(0, 500);
}

/**
 * A call's prompt (the prompt of an llm_query, the messages of a child RLM's turn) and response,
 * each text cut to RLM_CALL_TEXT_CHARS and all of a cell's calls together to CELL_CALL_TEXT_CHARS
 * (a cell may make thousands of calls; its result must stay sendable).
 */
function callText(messages: ChatMessage[], response: string, earlier: RlmCall[]): Pick<RlmCall, "prompt" | "response"> {
  let room = CELL_CALL_TEXT_CHARS - earlier.reduce((sum, call) => sum + textChars(call), 0);
  const cut = (text: string) => {
    const keep = Math.max(0, Math.min(RLM_CALL_TEXT_CHARS, room, text.length));
    room -= keep;
    return keep === text.length ? text : `${text.slice(0, keep)}... (${text.length - keep} more characters)`;
  };
  const [only] = messages;
  const prompt = messages.length === 1 && only!.role === "user" ? cut(only!.content) : messages.map(({ role, content }) => ({ role, content: cut(content) }));
  return { prompt, response: cut(response) };
}

function textChars({ prompt, response }: RlmCall): number {
  const promptChars = typeof prompt === "string" ? prompt.length : (prompt ?? []).reduce((sum, message) => sum + message.content.length, 0);
  return promptChars + (response?.length ?? 0);
}
