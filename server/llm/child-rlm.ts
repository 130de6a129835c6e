// rlm_query: a child RLM, server-side. It runs the same loop as the client's driver, in a child
// session of its own (a fresh interpreter of the same tenant, one level deeper), with the prompt
// as its context. Its model calls go through the parent's gateway: same budget, same record.
import type { RlmCall } from "../../protocol/index.ts";
import { runRlm, type ReplOutput } from "../../rlm/driver.ts";
import { concurrency } from "../concurrency.ts";
import { Interpreter, type SandboxSource } from "../sandbox/interpreter.ts";
import type { CellResult } from "../sandbox/sandbox.ts";
import type { ChildRlms, LlmGateway } from "./gateway.ts";

export interface ChildRlmSettings {
  /** Child RLMs running at once at each depth (each holds a sandbox); more wait their turn. */
  maxConcurrent: number;
  maxIterations: number;
  maxOutputChars: number;
  /** Each of the child's cells; the parent cell's own deadline bounds the whole run. */
  cellTimeoutMs: number;
}

export class ChildRlmRunner implements ChildRlms {
  /**
   * One limit per depth: a child waiting for a slot one level down never holds up the children
   * of its own level, so the tree cannot deadlock.
   */
  private readonly limits = new Map<number, ReturnType<typeof concurrency>>();

  constructor(
    private readonly sandboxes: SandboxSource,
    private readonly settings: ChildRlmSettings,
  ) {}

  run(prompt: string, model: string | null, parent: LlmGateway, calls: RlmCall[], signal: AbortSignal): Promise<string> {
    const depth = parent.depth + 1;
    let limit = this.limits.get(depth);
    if (!limit) this.limits.set(depth, (limit = concurrency(this.settings.maxConcurrent)));
    return limit(() => (signal.aborted ? Promise.resolve("Error: the cell ended before the child RLM started") : this.runChild(prompt, model, parent, calls, signal)));
  }

  private async runChild(prompt: string, model: string | null, parent: LlmGateway, calls: RlmCall[], signal: AbortSignal): Promise<string> {
    const gateway = parent.child();
    const interpreter = new Interpreter(this.sandboxes);
    const stop = () => interpreter.interrupt();
    signal.addEventListener("abort", stop);
    try {
      const run = await runRlm({
        repl: {
          addContext: async (payload) => {
            const text = typeof payload === "string" ? payload : JSON.stringify(payload);
            const error = await interpreter.addContext("context", null, text, typeof payload !== "string");
            if (error) throw new Error(`the child's context could not be set: ${error.message}`);
          },
          execute: async (code) => {
            const cellCalls: RlmCall[] = [];
            const result = await interpreter.execute({ code, timeoutMs: this.settings.cellTimeoutMs, locals: "none", llm: (request) => gateway.answer(request, cellCalls, signal) });
            calls.push(...cellCalls);
            return replOutput(result, cellCalls);
          },
        },
        model: {
          complete: async (messages, name) => {
            const completion = await gateway.complete(messages, name, gateway.depth, calls, signal);
            if (typeof completion === "string") throw new Error(completion.replace(/^Error: /, ""));
            return completion;
          },
        },
        modelName: gateway.modelFor(model, gateway.depth),
        context: prompt,
        maxIterations: this.settings.maxIterations,
        maxOutputChars: this.settings.maxOutputChars,
        signal,
      });
      return run.answer;
    } catch (error) {
      return `Error: Child RLM completion failed - ${(error as Error).message}`;
    } finally {
      signal.removeEventListener("abort", stop);
      await interpreter.close();
    }
  }
}

function replOutput(result: CellResult, calls: RlmCall[]): ReplOutput {
  const { error } = result;
  return {
    stdout: result.stdout,
    stderr: result.stderr,
    error: error && `${error.type}: ${error.message}`,
    finalAnswer: result.final_answer,
    calls,
  };
}
