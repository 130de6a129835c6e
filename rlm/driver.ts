// The RLM loop (recursive language model, arXiv 2512.24601): the root model never reads the
// context; it writes code that a wasm-repl session runs, and that code reads the context and
// calls sub-models. The loop feeds each block's output back until the model gives an answer.
import type { RlmCall } from "../protocol/index.ts";
import type { ChatMessage, ChatModel } from "./model.ts";
import { finalInText, replBlocks } from "./parsing.ts";
import { blockReport, contextDescription, FORCED_FINAL_PROMPT, iterationPrompt, SYSTEM_PROMPT } from "./prompts.ts";

/** The REPL the loop drives: a wasm-repl session (client side) or a child session (server side). */
export interface RlmRepl {
  /** Makes the payload the next `context_<n>` (`context` for the first). */
  addContext(payload: unknown): Promise<void>;
  execute(code: string): Promise<ReplOutput>;
}

export interface ReplOutput {
  stdout: string;
  stderr: string;
  /** "Type: message" of the exception the code raised. */
  error: string | null;
  /** What the code gave as its final answer (FINAL_VAR, `answer["ready"]`). */
  finalAnswer: string | null;
  /** The model calls the code made (llm_query), for the usage total. */
  calls?: RlmCall[];
}

export interface RlmOptions {
  repl: RlmRepl;
  model: ChatModel;
  /** The root model's name. */
  modelName: string;
  context: unknown;
  /** The question about the context; without one, the context itself says what to do. */
  question?: string | null;
  /** Default 30; then one forced final answer. */
  maxIterations?: number;
  /** Output of one block fed back to the model; default 20,000 characters. */
  maxOutputChars?: number;
  signal?: AbortSignal;
  /** Told of each iteration as it ends (progress). */
  onIteration?: (iteration: RlmIteration) => void;
}

export interface RlmBlock {
  code: string;
  output: ReplOutput;
}

export interface RlmIteration {
  reply: string;
  blocks: RlmBlock[];
  finalAnswer: string | null;
}

export interface RlmUsage {
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

export interface RlmResult {
  answer: string;
  iterations: RlmIteration[];
  /** The root model's calls and every sub-call the code made. */
  usage: RlmUsage;
  /** True when the iterations ran out and the answer was asked for. */
  forced: boolean;
}

export async function runRlm(options: RlmOptions): Promise<RlmResult> {
  const { repl, model, modelName, signal } = options;
  const maxIterations = options.maxIterations ?? 30;
  const maxOutputChars = options.maxOutputChars ?? 20_000;
  const question = options.question ?? null;
  const usage: RlmUsage = { calls: 0, promptTokens: 0, completionTokens: 0 };
  const ask = async (messages: ChatMessage[]) => {
    signal?.throwIfAborted();
    const completion = await model.complete(messages, modelName, signal);
    usage.calls++;
    usage.promptTokens += completion.promptTokens;
    usage.completionTokens += completion.completionTokens;
    return completion.text;
  };
  const execute = async (code: string) => {
    signal?.throwIfAborted();
    const output = await repl.execute(code);
    for (const call of output.calls ?? []) {
      usage.calls++;
      usage.promptTokens += call.prompt_tokens;
      usage.completionTokens += call.completion_tokens;
    }
    return output;
  };

  await repl.addContext(options.context);
  const conversation: ChatMessage[] = [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: contextDescription(options.context) },
  ];
  const iterations: RlmIteration[] = [];
  for (let index = 0; index < maxIterations; index++) {
    const reply = await ask([...conversation, { role: "user", content: iterationPrompt(index, question) }]);
    const blocks: RlmBlock[] = [];
    for (const code of replBlocks(reply)) blocks.push({ code, output: await execute(code) });
    const finalAnswer = blocks.find((block) => block.output.finalAnswer !== null)?.output.finalAnswer ?? (await answerInText(reply, execute));
    const iteration = { reply, blocks, finalAnswer };
    iterations.push(iteration);
    options.onIteration?.(iteration);
    if (finalAnswer !== null) return { answer: finalAnswer, iterations, usage, forced: false };
    conversation.push(
      { role: "assistant", content: reply },
      ...blocks.map(({ code, output }): ChatMessage => ({ role: "user", content: blockReport(code, describeOutput(output), maxOutputChars) })),
    );
  }
  const reply = await ask([...conversation, { role: "user", content: FORCED_FINAL_PROMPT }]);
  const written = finalInText(reply);
  return { answer: written && "answer" in written ? written.answer : reply.trim(), iterations, usage, forced: true };
}

/** FINAL(...) as written, or the value FINAL_VAR(name) names; null when the variable does not exist (the run goes on). */
async function answerInText(reply: string, execute: (code: string) => Promise<ReplOutput>): Promise<string | null> {
  const written = finalInText(reply);
  if (!written) return null;
  if ("answer" in written) return written.answer;
  const output = await execute(`FINAL_VAR(${JSON.stringify(written.variable)})`);
  return output.finalAnswer;
}

function describeOutput({ stdout, stderr, error }: ReplOutput): string {
  const parts = [stdout, stderr, error ?? ""].map((part) => part.trimEnd()).filter(Boolean);
  return parts.length > 0 ? parts.join("\n\n") : "No output";
}
