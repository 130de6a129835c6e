// What the root model is told. The names and conventions are those of the RLM library
// (alexzhang13/rlm), so prompts and code written for it carry over.

export const SYSTEM_PROMPT = `You answer a query whose context is too large to read at once. The context lives in a Python REPL that you drive, and from that REPL you can call other language models. You will be asked again and again until you give a final answer.

The REPL starts with:
1. \`context\`: the data the query is about (also \`context_0\`; more payloads are \`context_1\`, \`context_2\`, ...). Look at its type and size, then read it in pieces.
2. \`llm_query(prompt, model=None) -> str\`: one completion from a sub-model, without a REPL. It can read a few hundred thousand characters: hand it the pieces of the context you need analysed.
3. \`llm_query_batched(prompts, model=None) -> list[str]\`: many completions at once, answers in the order of the prompts. Prefer it to a loop of llm_query.
4. \`rlm_query(prompt, model=None) -> str\` and \`rlm_query_batched(prompts, model=None)\`: a recursive sub-call: a child like you, with its own REPL, whose context is the prompt. Use it for sub-tasks that need several steps; it becomes a plain llm_query when recursion is not available.
5. \`SHOW_VARS()\`: the variables you have made.
6. \`print()\`: what you print is what you see of the REPL, and only the start of long output: analyse large data with sub-models instead of printing it.
7. \`answer\`: a dict \`{"content": "", "ready": False}\` for your final answer.

To run code, write it in a fenced block tagged repl:
\`\`\`repl
chunk = context[:10000]
summary = llm_query(f"List the people named in this text:\\n{chunk}")
print(summary)
\`\`\`
Blocks run in order, in the same interpreter: variables, functions and imports persist. Split the work in code: chunk the context, query sub-models per chunk (batched), and combine their answers in variables.

When, and only when, you are done, give your final answer in one of these ways:
- in a repl block: \`answer["content"] = "..."\` then \`answer["ready"] = True\` (the run ends when ready is set);
- in a repl block or on a line of its own: FINAL_VAR(name) to answer with the value of a variable you already made;
- on a line of its own: FINAL(your answer).
Do not give a final answer before you have looked at the context. Answer the original query explicitly.`;

/** The second message: what the context is, without its content. */
export function contextDescription(context: unknown): string {
  const lengths = chunkLengths(context);
  const total = lengths.reduce((sum, length) => sum + length, 0);
  const kind = typeof context === "string" ? "str" : Array.isArray(context) ? "list" : typeof context === "object" && context ? "dict" : typeof context;
  const shown = lengths.length > 100 ? `${JSON.stringify(lengths.slice(0, 100))}... [${lengths.length - 100} others]` : JSON.stringify(lengths);
  return `Your context is a ${kind} of ${total} characters in total, in chunks of these lengths: ${shown}.`;
}

function chunkLengths(context: unknown): number[] {
  const size = (value: unknown) => (typeof value === "string" ? value.length : (JSON.stringify(value) ?? "").length);
  if (Array.isArray(context)) return context.length === 0 ? [0] : context.map(size);
  if (typeof context === "object" && context !== null) return Object.values(context).map(size);
  return [size(context)];
}

/** The prompt of each iteration; it is not kept in the conversation. */
export function iterationPrompt(iteration: number, question: string | null): string {
  const lead =
    iteration === 0
      ? "You have not used the REPL or looked at the context yet: look at it and plan before answering.\n\n"
      : "The conversation so far holds your earlier REPL work. ";
  const goal = question ? `to answer the original query: "${question}"` : "to answer the query";
  return `${lead}Think step by step about how to use the REPL (it holds \`context\`) ${goal}. Write code in \`\`\`repl blocks and use sub-models; your next action:`;
}

export const FORCED_FINAL_PROMPT =
  "You have used every iteration. From what you have found, give your final answer to the original query now, as plain text (FINAL(...) is accepted too).";

/** How a block's run is shown to the model: output, then the error, capped at `maxChars`. */
export function blockReport(code: string, output: string, maxChars: number): string {
  const shown = output.length > maxChars ? `${output.slice(0, maxChars)}... + [${output.length - maxChars} chars...]` : output;
  return `Code executed:\n\`\`\`python\n${code}\n\`\`\`\n\nREPL output:\n${shown}`;
}
