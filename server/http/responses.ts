// Answers in JSON: to HTTP requests, and to WebSocket upgrades that are refused before the socket opens.
import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { HTTP_STATUS, type ErrorBody, type ErrorCode } from "../../protocol/index.ts";

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

export function sendError(response: ServerResponse, code: ErrorCode, message: string, reason?: string): void {
  sendJson(response, HTTP_STATUS[code], errorBody(code, message, reason));
}

/** Writes a complete HTTP answer on a socket that asked to upgrade, then closes it. */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, message: string, reason?: string): void {
  const status = HTTP_STATUS[code];
  const text = JSON.stringify(errorBody(code, message, reason));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      "Connection: close\r\n\r\n" +
      text,
  );
}

/**
 * The answer to a request a bug failed (an error boundary caught it): 500 when nothing was sent
 * yet; otherwise the connection is cut, since a half-sent answer cannot be mended.
 */
export function failRequest(response: ServerResponse): void {
  if (response.headersSent) response.destroy();
  else sendError(response, "internal", FAILED);
}

/** The same for an upgrade that failed before the socket was handed to the WebSocket server. */
export function failUpgrade(socket: Duplex): void {
  if (socket.writable) refuseUpgrade(socket, "internal", FAILED);
  else socket.destroy();
}

const FAILED = "the server failed while handling this request (a bug, logged with its stack); other requests are unaffected: retry, or report it";

function errorBody(code: ErrorCode, message: string, reason: string | undefined): ErrorBody {
  return reason === undefined ? { code, message } : { code, message, reason };
}
