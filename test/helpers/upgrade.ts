// What a refused WebSocket upgrade answered: its status and JSON body (the socket never opens).
import WebSocket from "ws";
import type { ErrorBody } from "../../protocol/index.ts";

export interface Refusal {
  status: number;
  body: ErrorBody;
}

export function refusedUpgrade(baseUrl: string, path: string, headers: Record<string, string>, protocols: string[] = []): Promise<Refusal> {
  const socket = new WebSocket(baseUrl.replace(/^http/, "ws") + path, protocols, { headers });
  return new Promise((resolve, reject) => {
    socket.on("open", () => {
      socket.terminate();
      reject(new Error(`the socket to ${path} opened`));
    });
    socket.on("error", () => {}); // the refusal is read from the response below
    socket.on("unexpected-response", (_request, response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      // Node's own refusals (431 for oversized headers) come without a body.
      response.on("end", () => resolve({ status: response.statusCode!, body: body ? JSON.parse(body) : { code: "bad_request", message: "" } }));
    });
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
