// The SDK's plain HTTP requests, beside a session's WebSocket: opening a session with an
// environment, and its files. The server's refusals come back as WasmReplError.
import { errorFromBody, WasmReplError } from "./errors.ts";

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  token: string;
  body?: Uint8Array | string;
  contentType?: string;
}

/** The server's http(s) URL for one given as http(s) or ws(s), without a trailing slash. */
export function httpBase(url: string): string {
  return url.replace(/^ws/, "http").replace(/\/+$/, "");
}

/** Sends a request; resolves with a successful answer, throws the server's error otherwise. */
export async function httpRequest(url: string, { method, token, body, contentType }: HttpRequest): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { method, body, headers: { authorization: `Bearer ${token}`, ...(contentType && { "content-type": contentType }) } });
  } catch (error) {
    throw new WasmReplError("internal", `cannot reach ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw errorFromBody(response.status, await response.text());
  return response;
}
