import type { ErrorCode } from "../protocol/index.ts";

/** An error from wasm-repl, carrying the protocol's error code (and the HTTP status when there was one). */
export class WasmReplError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "WasmReplError";
  }
}
