// GET /v1/development-token: a development server hands its token to a client on the same machine
// (the notebook page, the Python client), so `npm start` and opening the URL is enough. Only a
// development server has this route, and it binds loopback only (config.ts); on top of that the
// answer goes only to a request that came over loopback, named a loopback host (a page of another
// site that rebinds its name to 127.0.0.1 would send its own name), and, from a browser, came from
// this server's own origin.
import type { IncomingMessage } from "node:http";
import { isLoopback } from "../loopback.ts";
import type { HttpExchange, PublicRoute } from "./endpoint.ts";
import { sendError, sendJson } from "./responses.ts";

export function developmentToken(issue: () => Promise<string>): PublicRoute["handle"] {
  return async ({ request, response }: HttpExchange) => {
    const problem = refusal(request);
    if (problem) return sendError(response, "forbidden", problem);
    response.setHeader("cache-control", "no-store");
    sendJson(response, 200, { token: await issue() });
  };
}

function refusal(request: IncomingMessage): string | null {
  const peer = request.socket.remoteAddress ?? "";
  if (!isLoopback(peer.replace(/^::ffff:/, ""))) return "the development token is given only to clients on this machine";
  const host = hostName(request.headers.host);
  if (host === null || !isLoopback(host)) return "the development token is given only to requests for a loopback host (127.0.0.1, localhost, [::1])";
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return "the development token is not given to other sites' pages";
  const origin = request.headers.origin;
  if (origin !== undefined && hostName(safeHost(origin)) !== host) return "the development token is not given to other origins";
  return null;
}

/** The name in a Host header (brackets of an IPv6 literal removed), or null when it has none. */
function hostName(header: string | undefined): string | null {
  if (!header) return null;
  try {
    return new URL(`http://${header}`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return null;
  }
}

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
