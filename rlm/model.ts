// The chat model an RLM talks to: the root model of the driver, and (server-side) every
// llm_query. One small interface so the driver runs against any OpenAI-compatible endpoint.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Completion {
  text: string;
  /** From the API's usage; 0 when the API reports none. */
  promptTokens: number;
  completionTokens: number;
}

export interface ChatModel {
  complete(messages: ChatMessage[], model: string, signal?: AbortSignal): Promise<Completion>;
}

/** Why a call failed: the kinds callers word differently, and the API's own message. */
export class ModelCallError extends Error {
  constructor(
    readonly kind: "timeout" | "cancelled" | "unreachable" | "refused",
    message: string,
    /** The HTTP status of a refusal. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface OpenAIModelOptions {
  apiKey: string;
  baseUrl: string;
  /** Per call; past it the call fails (no retry: the caller decides). */
  timeoutMs: number;
}

/** A ChatModel over the `openai` SDK's chat completions. */
export function openAIChatModel({ apiKey, baseUrl, timeoutMs }: OpenAIModelOptions): ChatModel {
  const client = new OpenAI({ apiKey, baseURL: baseUrl, timeout: timeoutMs, maxRetries: 0 });
  return {
    async complete(messages, model, signal) {
      const response = await client.chat.completions.create({ model, messages }, { signal }).catch((error: unknown) => {
        throw callError(error);
      });
      return {
        text: response.choices[0]?.message?.content ?? "",
        promptTokens: response.usage?.prompt_tokens ?? 0,
        completionTokens: response.usage?.completion_tokens ?? 0,
      };
    },
  };
}

function callError(error: unknown): unknown {
  // Order matters: the timeout and the abort are kinds of connection error and API error.
  if (error instanceof APIConnectionTimeoutError) return new ModelCallError("timeout", error.message);
  if (error instanceof APIUserAbortError) return new ModelCallError("cancelled", error.message);
  if (error instanceof APIConnectionError) return new ModelCallError("unreachable", error.message);
  if (error instanceof APIError) return new ModelCallError("refused", error.message, error.status);
  return error;
}
