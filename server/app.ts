// The server: HTTP routes and the WebSocket upgrade, composed from the parts it is given.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { CLOSE, PROTOCOL, type SessionLimits } from "../protocol/index.ts";
import { bearerToken } from "./auth/credentials.ts";
import { AuthError, type Identity } from "./auth/identity.ts";
import type { TokenVerifier } from "./auth/tokens.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { refuseUpgrade, sendError, sendJson } from "./http/responses.ts";
import { connect } from "./http/websocket.ts";
import type { Logger } from "./log.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";
import { SessionError, SessionRegistry } from "./sessions/registry.ts";

export interface AppDependencies {
  config: Config;
  log: Logger;
  sandboxes: SandboxRuntime;
  verifier: TokenVerifier;
  clock: Clock;
}

const SESSION_PATH = /^\/v1\/sessions(?:\/([A-Za-z0-9_-]{1,64}))?\/?$/;

export class App {
  readonly server: Server;
  readonly registry: SessionRegistry;
  private readonly sockets: WebSocketServer;
  private draining = false;

  constructor(private readonly deps: AppDependencies) {
    const { config } = deps;
    const limits: SessionLimits = {
      execution_timeout: config.server.executionTimeout,
      max_execution_timeout: config.server.maxExecutionTimeout,
      idle_timeout: config.server.idleTimeout,
      max_queued_cells: config.server.maxQueuedCells,
      max_frame_bytes: config.server.maxFrameBytes,
      max_output_bytes: config.sandbox.maxOutputBytes,
      memory_mb: config.sandbox.memoryMb,
      replay_buffer_bytes: config.server.replayBufferBytes,
    };
    this.registry = new SessionRegistry({
      maxSessions: config.server.maxSessions,
      idleTimeoutMs: config.server.idleTimeout * 1000,
      retentionMs: config.server.sessionRetention * 1000,
      settings: { limits },
      sandboxes: deps.sandboxes.pool,
      clock: deps.clock,
      log: deps.log,
    });
    this.sockets = new WebSocketServer({
      noServer: true,
      maxPayload: config.server.maxFrameBytes,
      // The token may ride in the subprotocol list; the protocol answered is always ours.
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.server = createServer((request, response) => this.route(request, response));
    this.server.on("upgrade", (request, socket, head) => void this.upgrade(request, socket, head));
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.deps.config.server;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  /** Stops taking connections, evicts every session with reason "shutdown", stops the sandboxes. */
  async shutdown(): Promise<void> {
    this.draining = true;
    const closed = new Promise((resolve) => this.server.close(resolve));
    await this.registry.shutdown();
    for (const client of this.sockets.clients) client.close(CLOSE.restarting, "server shutting down");
    this.server.closeIdleConnections();
    await this.deps.sandboxes.close();
    await closed;
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method === "GET" && path === "/health") return sendJson(response, 200, { status: "ok" });
    if (request.method === "GET" && path === "/ready") {
      const reason = this.notReadyReason();
      return reason ? sendJson(response, 503, { ready: false, reason }) : sendJson(response, 200, { ready: true });
    }
    if (path !== undefined && SESSION_PATH.test(path)) {
      return sendError(response, "bad_request", "sessions are WebSockets: connect with an Upgrade: websocket request");
    }
    sendError(response, "bad_request", `no route for ${request.method} ${path}`);
  }

  private notReadyReason(): string | null {
    if (this.draining) return "the server is shutting down";
    if (this.deps.sandboxes.pool.available === 0) return "no warm sandbox is available yet";
    return null;
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = SESSION_PATH.exec(url.pathname);
    if (!match) return refuseUpgrade(socket, "bad_request", `no WebSocket endpoint at ${url.pathname}; use /v1/sessions or /v1/sessions/{id}`);
    if (this.draining) return refuseUpgrade(socket, "store_unavailable", "the server is shutting down; reconnect to another");
    let identity: Identity;
    try {
      identity = await this.deps.verifier.verify(bearerToken(request));
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      this.deps.log.info("auth_failed", { reason: error.message });
      return refuseUpgrade(socket, error.code, error.message);
    }
    const since = url.searchParams.get("since");
    if (since !== null && !/^\d+$/.test(since)) return refuseUpgrade(socket, "bad_request", `since must be a sequence number (a whole number); got ${JSON.stringify(since)}`);
    const id = match[1];
    let session;
    try {
      session = id === undefined ? this.registry.open(identity) : this.registry.find(id, identity);
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      return refuseUpgrade(socket, error.code, error.message);
    }
    this.sockets.handleUpgrade(request, socket, head, (ws) => {
      connect(ws, session, id !== undefined, since === null ? null : Number(since));
    });
  }
}
