// What a route of this server is: a method and path (see routes.ts), the token scope the caller
// must hold, and the handler. The server authenticates the caller for the scope before it calls
// the handler, and answers a refusal the handler throws (AuthError, SessionError) for it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Identity, Scope } from "../auth/identity.ts";
import type { Method, Params } from "./routes.ts";

export type HttpMethod = Exclude<Method, "WEBSOCKET">;

export interface HttpExchange {
  request: IncomingMessage;
  response: ServerResponse;
  params: Params;
}

export interface WebSocketExchange {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  url: URL;
  params: Params;
  /** Completes the upgrade and hands the WebSocket to `attach` (inside an error boundary of its own). */
  accept(attach: (ws: WebSocket) => void): void;
}

/** Answered to anyone: probes and the Prometheus scrape. */
export interface PublicRoute {
  method: HttpMethod;
  path: string;
  scope: null;
  handle(exchange: HttpExchange): Promise<void> | void;
}

export interface ScopedRoute {
  method: HttpMethod;
  path: string;
  scope: Scope;
  handle(exchange: HttpExchange, caller: Identity): Promise<void>;
}

/** Every WebSocket is a session's connection, so every one needs a token. */
export interface WebSocketRoute {
  method: "WEBSOCKET";
  path: string;
  scope: Scope;
  /** What is wrong with the query, or null: checked before the token, since no token could make it right. */
  queryProblem?(query: URLSearchParams): string | null;
  /** The subprotocol answered, of those the client offered; false: none (each door has its own). */
  subprotocol(offered: ReadonlySet<string>): string | false;
  handle(exchange: WebSocketExchange, caller: Identity): Promise<void>;
}

export type Endpoint = PublicRoute | ScopedRoute | WebSocketRoute;
