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

function errorBody(code: ErrorCode, message: string, reason: string | undefined): ErrorBody {
  return reason === undefined ? { code, message } : { code, message, reason };
}
