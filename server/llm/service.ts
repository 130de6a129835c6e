// The server's LLM setup, from configuration: one model client (none without a key) and a fresh
// gateway, with a budget of its own, for each session.
import { openAIChatModel, type ChatModel } from "../../rlm/model.ts";
import type { LlmConfig } from "./settings.ts";
import type { Identity } from "../auth/identity.ts";
import type { SandboxSource } from "../sandbox/interpreter.ts";
import { LlmBudget } from "./budget.ts";
import { ChildRlmRunner } from "./child-rlm.ts";
import { LlmGateway, type LlmMetrics, type LlmSettings } from "./gateway.ts";

type Owner = Pick<Identity, "tenant" | "user">;

export class LlmService {
  private readonly model: ChatModel | null;
  private readonly settings: LlmSettings;

  constructor(
    private readonly config: LlmConfig,
    private readonly metrics: LlmMetrics,
    /** Interpreters for child RLMs: the session's identity's, like the session's own. */
    private readonly sandboxes: { sourceFor(owner: Owner): SandboxSource },
    /** The timeout of a child RLM's cells. */
    private readonly cellTimeoutMs: number,
  ) {
    const { apiKey, baseUrl, timeout } = config;
    this.model = apiKey ? openAIChatModel({ apiKey, baseUrl, timeoutMs: timeout * 1000 }) : null;
    this.settings = { model: config.model, subModel: config.subModel, maxDepth: config.maxDepth };
  }

  /** The gateway of a new session (depth 0) of `owner`, with a budget of its own. */
  /** `recordText`: the calls' records carry their prompt and response text (a session's rlm_call_text). */
  forSession(owner: Owner, { recordText = false }: { recordText?: boolean } = {}): LlmGateway {
    const { maxConcurrency, maxCalls, maxTokens, timeout, maxChildren, maxIterations, maxOutputChars } = this.config;
    const budget = new LlmBudget({ maxConcurrency, maxCalls, maxTokens, timeoutMs: timeout * 1000 });
    const children = new ChildRlmRunner(this.sandboxes.sourceFor(owner), { maxConcurrent: maxChildren, maxIterations, maxOutputChars, cellTimeoutMs: this.cellTimeoutMs });
    return new LlmGateway(this.model, this.settings, budget, 0, this.metrics, children, recordText);
  }
}
