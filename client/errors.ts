import type { ErrorBody, ErrorCode } from "../protocol/index.ts";

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

/** The error an HTTP answer of the server's carries (a refused upgrade, a REST route's answer). */
export function errorFromBody(status: number, body: string): WasmReplError {
  try {
    const parsed = JSON.parse(body) as ErrorBody;
    return new WasmReplError(parsed.code, parsed.message, status);
  } catch {
    return new WasmReplError("internal", `the server answered HTTP ${status}: ${body.slice(0, 200)}`, status);
  }
}
