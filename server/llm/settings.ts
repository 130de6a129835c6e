// What llm_query is configured with (LLM_*): parsed by server/config.ts, used by the LLM service.

/** The LLM that code reaches through llm_query. The key never enters a sandbox and is never logged. */
export interface LlmConfig {
  /** LLM_API_KEY, or the contents of LLM_API_KEY_FILE; null when neither is set (llm_query then answers an error). */
  apiKey: string | null;
  baseUrl: string;
  model: string;
  /** For calls at depth 1 and deeper (llm_query, child RLMs); null: `model`. */
  subModel: string | null;
  /** rlm_query starts a child RLM while the session's depth + 1 is below this. */
  maxDepth: number;
  /** Per session, its child RLMs included. */
  maxConcurrency: number;
  maxCalls: number;
  maxTokens: number;
  /** Seconds per call. */
  timeout: number;
  /** Child RLMs (rlm_query) running at once per session and depth; each holds a sandbox. */
  maxChildren: number;
  /** Child RLMs: iterations before the forced final answer, and REPL output fed back per block. */
  maxIterations: number;
  maxOutputChars: number;
}

/** What a model name may be (LLM_MODEL, and a cell's model=...): a bounded metric label and an API parameter. */
export const MODEL_NAME = /^[\w.:/@-]{1,128}$/;
