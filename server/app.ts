// The server: its HTTP listeners, the route table they answer from (api.ts), the WebSocket
// upgrade, and listen, drain and shutdown. Its parts come built (see compose.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { CLOSE } from "../protocol/index.ts";
import { AuthError } from "./auth/identity.ts";
import { guard } from "./boundary.ts";
import { apiRoutes, metricsPortRoutes, type ApiParts } from "./api.ts";
import type { Authenticate } from "./http/authenticate.ts";
import type { Endpoint, WebSocketRoute } from "./http/endpoint.ts";
import type { FrameParser } from "./v1/frame-parser.ts";
import { failRequest, failUpgrade, refuseUpgrade, sendError } from "./http/responses.ts";
import type { RouteTable } from "./http/routes.ts";
import { badTarget, requestTarget } from "./http/target.ts";
import { SessionError } from "./sessions/errors.ts";
import type { PodIdentity } from "./sessions/ownership.ts";
import type { SessionRegistry } from "./sessions/registry.ts";

export interface AppParts extends ApiParts {
  authenticate: Authenticate;
  /** This server as other servers reach it; its address is filled in by listen() when POD_ADDRESS is unset. */
  pod: PodIdentity;
}

/** A refusal to answer with: an auth failure or a session failure. Anything else thrown is a bug. */
type Refusal = AuthError | SessionError;

export class App {
  readonly server: Server;
  /** Serves GET /metrics alone when METRICS_PORT is set; null when /metrics is on the main port. */
  readonly metricsServer: Server | null;
  readonly registry: SessionRegistry;
  private readonly routes: RouteTable<Endpoint>;
  private readonly sockets: WebSocketServer;
  /** The route of each upgrade being accepted, whose subprotocol the handshake answers. */
  private readonly upgrading = new WeakMap<IncomingMessage, WebSocketRoute>();
  /** Parses large frames off this thread, for every connection: its workers stop at shutdown. */
  private readonly parser: FrameParser;
  private draining = false;

  constructor(private readonly parts: AppParts) {
    const { config } = parts;
    this.registry = parts.registry;
    this.parser = parts.parser;
    this.routes = apiRoutes(parts, () => this.draining);
    this.sockets = new WebSocketServer({
      noServer: true,
      maxPayload: config.server.maxFrameBytes,
      // Each WebSocket route answers its own door's subprotocol (the token may ride in the list too).
      handleProtocols: (offered, request) => this.upgrading.get(request)?.subprotocol(offered) ?? false,
    });
    // Each request and upgrade runs in an error boundary: a bug fails that one with a 500.
    this.server = this.serverFor("request", this.routes);
    this.server.on("upgrade", guard(parts, "upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head), (_request, socket) => failUpgrade(socket)));
    this.metricsServer = config.metrics.port === null ? null : this.serverFor("metrics", metricsPortRoutes(parts));
  }

  async listen(): Promise<AddressInfo> {
    const { config } = this.parts;
    const { host, port } = config.server;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    if (config.store.podAddress === null) this.parts.pod.address = `${host}:${address.port}`;
    const { metricsServer } = this;
    if (metricsServer) {
      await new Promise<void>((resolve, reject) => {
        metricsServer.once("error", reject);
        metricsServer.listen(config.metrics.port ?? 0, host, () => resolve());
      });
    }
    return address;
  }

  /** Turns not-ready and refuses new sessions; everything else keeps working (see shutdown). */
  drain(): void {
    this.draining = true;
  }

  /** Drains, stops taking connections, evicts every session with reason "shutdown", stops the sandboxes. */
  async shutdown(): Promise<void> {
    this.drain();
    const closed = Promise.all([this.server, this.metricsServer].map((server) => server && new Promise((resolve) => server.close(resolve))));
    await this.registry.shutdown();
    for (const client of this.sockets.clients) client.close(CLOSE.restarting, "server shutting down");
    this.server.closeIdleConnections();
    this.metricsServer?.closeAllConnections();
    await this.parts.sandboxes.close();
    await this.parser.close();
    await closed;
  }

  private serverFor(boundary: "request" | "metrics", routes: RouteTable<Endpoint>): Server {
    return createServer(guard(this.parts, boundary, (request, response) => this.serve(routes, request, response), (_request, response) => failRequest(response)));
  }

  /** Answers a plain request from `routes`: the caller authenticated for the route's scope, then its handler. */
  private async serve(routes: RouteTable<Endpoint>, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestTarget(request.url);
    if (url === null) return sendError(response, "bad_request", badTarget(request.url));
    const method = request.method ?? "";
    const match = routes.forRequest(method, url.pathname);
    if (match.route === null) {
      // A WebSocket's path asked without the upgrade is the client's mistake, not a missing route.
      const code = match.others.some((route) => route.method === "WEBSOCKET") ? "bad_request" : "not_found";
      return sendError(response, code, routes.noRoute(method, url.pathname, match.others));
    }
    const { route, params } = match;
    const exchange = { request, response, params };
    try {
      if (route.scope === null) await route.handle(exchange);
      else await route.handle(exchange, await this.parts.authenticate(request, route.scope));
    } catch (error) {
      if (!isRefusal(error)) throw error;
      sendError(response, error.code, error.message, reasonOf(error));
    }
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const url = requestTarget(request.url);
    if (url === null) return refuseUpgrade(socket, "bad_request", badTarget(request.url));
    const match = this.routes.forUpgrade(url.pathname);
    if (match.route === null) return refuseUpgrade(socket, "bad_request", this.routes.noWebSocket(url.pathname));
    if (this.draining) return refuseUpgrade(socket, "server_draining", "the server is shutting down; reconnect (through any other server)");
    const { route, params } = match;
    const problem = route.queryProblem?.(url.searchParams);
    if (problem) return refuseUpgrade(socket, "bad_request", problem);
    // Past accept the socket is a WebSocket: a bug attaching it closes it with 1011, not an HTTP 500.
    const accept = (attach: (ws: WebSocket) => void) => {
      this.upgrading.set(request, route);
      this.sockets.handleUpgrade(request, socket, head, guard(this.parts, "upgrade", attach, (ws) => ws.close(CLOSE.internal, "internal error")));
    };
    try {
      await route.handle({ request, socket, head, url, params, accept }, await this.parts.authenticate(request, route.scope));
    } catch (error) {
      if (!isRefusal(error)) throw error;
      refuseUpgrade(socket, error.code, error.message, reasonOf(error));
    }
  }
}

function isRefusal(error: unknown): error is Refusal {
  return error instanceof AuthError || error instanceof SessionError;
}

function reasonOf(refusal: Refusal): string | undefined {
  return refusal instanceof AuthError ? refusal.reason : undefined;
}
