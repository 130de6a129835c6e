// Reading a root model's reply: the ```repl blocks to run, and a final answer written as text.

const REPL_BLOCK = /```repl[ \t]*\n([\s\S]*?)\n```/g;
// Line-anchored. FINAL_VAR's name ends at the first ")"; FINAL's text runs to the last ")" that
// ends a line, so parentheses inside the answer survive.
const FINAL_VAR = /^\s*FINAL_VAR\((.*?)\)/ms;
const FINAL = /^\s*FINAL\((.*)\)\s*$/ms;

/** The code of every ```repl block, in order. */
export function replBlocks(reply: string): string[] {
  return [...reply.matchAll(REPL_BLOCK)].map((match) => match[1]!.trim()).filter(Boolean);
}

export type FinalInText = { variable: string } | { answer: string } | null;

/** `FINAL_VAR(name)` (checked first) or `FINAL(answer)` written in the reply. */
export function finalInText(reply: string): FinalInText {
  const variable = FINAL_VAR.exec(reply);
  if (variable) return { variable: variable[1]!.trim().replace(/^["']+|["']+$/g, "") };
  const final = FINAL.exec(reply);
  return final ? { answer: final[1]!.trim() } : null;
}
