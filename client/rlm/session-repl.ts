// The RLM driver's REPL, on the client: a wasm-repl session over its WebSocket.
import type { ResultFrame } from "../../protocol/index.ts";
import { WasmReplError } from "../errors.ts";
import type { ReplSession } from "../session.ts";
import type { RlmRepl } from "../../rlm/driver.ts";

export function sessionRepl(session: ReplSession, cellTimeout?: number): RlmRepl {
  return {
    async addContext(payload) {
      const result = await session.addContext(payload);
      if (!result.success) throw new WasmReplError("bad_request", `the context could not be set: ${result.error?.message}`);
    },
    async execute(code) {
      const result: ResultFrame = await session.execute(code, { locals: "none", ...(cellTimeout !== undefined && { timeout: cellTimeout }) });
      return {
        stdout: result.stdout,
        stderr: result.stderr,
        error: result.error && `${result.error.type}: ${result.error.message}`,
        finalAnswer: result.final_answer,
        calls: result.rlm_calls,
      };
    },
  };
}
