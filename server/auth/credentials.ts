// Where a request carries its token: the Authorization header, or for browsers (which cannot set
// headers on a WebSocket) the subprotocol list `wasm-repl.v1, bearer.<jwt>`.
import type { IncomingMessage } from "node:http";
import { BEARER_SUBPROTOCOL_PREFIX } from "../../protocol/index.ts";
import { AuthError } from "./identity.ts";

export function bearerToken(request: IncomingMessage): string {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new AuthError("unauthorized", "the Authorization header must be \"Bearer <token>\"");
    return match[1]!;
  }
  const offered = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((item) => item.trim());
  const carried = offered.find((item) => item.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (carried) return carried.slice(BEARER_SUBPROTOCOL_PREFIX.length);
  throw new AuthError("unauthorized", "no token: send \"Authorization: Bearer <token>\" or the subprotocol \"bearer.<token>\"");
}
