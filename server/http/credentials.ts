// Where a request carries its token: the Authorization header (`Bearer <jwt>`, or `token <jwt>`
// as Jupyter's gateway clients send it), or for browsers (which cannot set headers on a WebSocket)
// the subprotocol list `wasm-repl.v1, bearer.<jwt>`, or, only when ALLOW_QUERY_TOKEN is on,
// `?access_token=` or Jupyter's `?token=` (either ends up in proxy logs).
import type { IncomingMessage } from "node:http";
import { BEARER_SUBPROTOCOL_PREFIX } from "../../protocol/index.ts";
import { requestTarget } from "./target.ts";
import { AuthError } from "../auth/identity.ts";

/** The query parameters a token may ride in: ours, and the one Jupyter's front ends append. */
const QUERY_TOKEN_NAMES = ["access_token", "token"] as const;

export function bearerToken(request: IncomingMessage, allowQueryToken: boolean): string {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new AuthError("unauthorized", "malformed_token", "the Authorization header must be \"Bearer <token>\" (or \"token <token>\")");
    return match[1]!;
  }
  const offered = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((item) => item.trim());
  const carried = offered.find((item) => item.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (carried) return carried.slice(BEARER_SUBPROTOCOL_PREFIX.length);
  const query = requestTarget(request.url)?.searchParams;
  const name = QUERY_TOKEN_NAMES.find((candidate) => query?.has(candidate));
  if (name !== undefined) {
    if (allowQueryToken) return query!.get(name)!;
    throw new AuthError("unauthorized", "query_token_disabled", `tokens in the URL (${name}) are disabled on this server (ALLOW_QUERY_TOKEN); send an Authorization header or the bearer subprotocol`);
  }
  throw new AuthError("unauthorized", "missing_token", "no token: send \"Authorization: Bearer <token>\" or the subprotocol \"bearer.<token>\"");
}
