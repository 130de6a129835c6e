// The server: HTTP routes and the WebSocket upgrade, composed from the parts it is given.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { CLOSE, PROTOCOL, type SessionLimits } from "../protocol/index.ts";
import { bearerToken } from "./http/credentials.ts";
import { AuthError, requireScope, type Identity, type Scope } from "./auth/identity.ts";
import type { TokenVerifier } from "./auth/tokens.ts";
import { guard } from "./boundary.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { failRequest, failUpgrade, refuseUpgrade, sendError, sendJson } from "./http/responses.ts";
import { badTarget, requestTarget } from "./http/target.ts";
import { handleExecute } from "./http/execute.ts";
import { FrameParser } from "./http/frame-parser.ts";
import { RateLimiter } from "./http/rate-limit.ts";
import { connect } from "./v1/connection.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";
import type { Hibernator } from "./hibernation/hibernator.ts";
import { Forwarder, wasForwarded } from "./routing/forwarder.ts";
import { BufferBudget } from "./sessions/buffers.ts";
import { HeldElsewhere, SessionError } from "./sessions/errors.ts";
import type { PodIdentity } from "./sessions/ownership.ts";
import { SessionRegistry } from "./sessions/registry.ts";
import { LlmService } from "./llm/service.ts";
import type { SessionStore } from "./store/store.ts";
import { TenantQuotas } from "./tenancy/quotas.ts";

export interface AppDependencies {
  config: Config;
  log: Logger;
  sandboxes: SandboxRuntime;
  verifier: TokenVerifier;
  store: SessionStore;
  hibernator: Hibernator;
  clock: Clock;
  metrics: Metrics;
}

const SESSIONS_PATH = /^\/v1\/sessions\/?$/;
const SESSION_PATH = /^\/v1\/sessions\/([A-Za-z0-9_-]{1,64})\/?$/;

/** A refusal to answer with: an auth failure or a session failure. */
type Refusal = AuthError | SessionError;

export class App {
  readonly server: Server;
  /** Serves GET /metrics alone when METRICS_PORT is set; null when /metrics is on the main port. */
  readonly metricsServer: Server | null;
  readonly registry: SessionRegistry;
  private readonly sockets: WebSocketServer;
  private readonly pod: PodIdentity;
  private readonly quotas: TenantQuotas;
  private readonly llm: LlmService;
  private readonly forwarder: Forwarder;
  private readonly rates: RateLimiter;
  private readonly parser: FrameParser;
  private readonly limits: SessionLimits;
  private draining = false;

  constructor(private readonly deps: AppDependencies) {
    const { config } = deps;
    const limits: SessionLimits = (this.limits = {
      execution_timeout: config.server.executionTimeout,
      max_execution_timeout: config.server.maxExecutionTimeout,
      idle_timeout: config.server.idleTimeout,
      max_queued_cells: config.server.maxQueuedCells,
      max_frame_bytes: config.server.maxFrameBytes,
      max_output_bytes: config.sandbox.maxOutputBytes,
      memory_mb: config.sandbox.memoryMb,
      replay_buffer_bytes: config.server.replayBufferBytes,
    });
    this.quotas = new TenantQuotas(config.tenantLimits, deps.clock);
    this.rates = new RateLimiter(config.server.rateLimits);
    this.parser = new FrameParser({ maxFrameBytes: config.server.maxFrameBytes, thresholdBytes: config.server.offThreadParseBytes ?? undefined });
    const buffers = new BufferBudget(config.server.buffers);
    deps.metrics.observeBuffers(() => buffers.usage());
    this.forwarder = new Forwarder(config.store.podName);
    this.llm = new LlmService(config.llm, deps.metrics, deps.sandboxes, config.server.executionTimeout * 1000);
    // Without POD_ADDRESS the address is where this server listens, known once it does.
    this.pod = { name: config.store.podName, address: config.store.podAddress ?? `${config.server.host}:${config.server.port}` };
    this.registry = new SessionRegistry({
      maxSessions: config.server.maxSessions,
      idleTimeoutMs: config.server.idleTimeout * 1000,
      maxLifetimeMs: config.lifecycle.maxSessionLifetime * 1000,
      hibernateAfterMs: config.lifecycle.hibernateAfter * 1000,
      checkpointAfterMs: config.lifecycle.checkpointAfter * 1000,
      drainTimeoutMs: config.lifecycle.drainTimeout * 1000,
      // A cell gets its kill grace; set_vars or add_context, a sandbox's call deadline.
      interruptedWorkMs: config.sandbox.killGraceMs + config.sandbox.callTimeoutMs,
      sharedStore: config.store.redisUrl !== null,
      retentionMs: config.server.sessionRetention * 1000,
      heartbeatTtlMs: config.store.heartbeatTtlMs,
      settings: { limits, logCode: config.logCode, buffers },
      sandboxes: deps.sandboxes,
      llm: this.llm,
      quotas: this.quotas,
      store: deps.store,
      hibernator: deps.hibernator,
      pod: this.pod,
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
    });
    this.sockets = new WebSocketServer({
      noServer: true,
      maxPayload: config.server.maxFrameBytes,
      // The token may ride in the subprotocol list; the protocol answered is always ours.
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
    // Each request and upgrade runs in an error boundary: a bug fails that one with a 500.
    this.server = createServer(guard(deps, "request", (request, response) => this.route(request, response), (_request, response) => failRequest(response)));
    this.server.on("upgrade", guard(deps, "upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head), (_request, socket) => failUpgrade(socket)));
    this.metricsServer =
      config.metrics.port === null
        ? null
        : createServer(
            guard(
              deps,
              "metrics",
              (request, response) => {
                const path = requestTarget(request.url)?.pathname;
                if (path === undefined) return sendError(response, "bad_request", badTarget(request.url));
                if (request.method === "GET" && path === "/metrics") return this.serveMetrics(response);
                sendError(response, "not_found", `no route for ${request.method} ${path}; this port serves GET /metrics`);
              },
              (_request, response) => failRequest(response),
            ),
          );
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.deps.config.server;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    if (this.deps.config.store.podAddress === null) this.pod.address = `${host}:${address.port}`;
    const { metricsServer } = this;
    if (metricsServer) {
      await new Promise<void>((resolve, reject) => {
        metricsServer.once("error", reject);
        metricsServer.listen(this.deps.config.metrics.port ?? 0, host, () => resolve());
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
    await this.deps.sandboxes.close();
    await this.parser.close();
    await closed;
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = requestTarget(request.url)?.pathname;
    if (path === undefined) return sendError(response, "bad_request", badTarget(request.url));
    const { method } = request;
    if (method === "GET" && path === "/health") return sendJson(response, 200, { status: "ok" });
    // Unauthenticated: Prometheus scrapes it (the guide's annotations: port 8000, path /metrics).
    if (method === "GET" && path === "/metrics") {
      if (this.metricsServer === null) return this.serveMetrics(response);
      return sendError(response, "not_found", `metrics are served on their own port (METRICS_PORT=${this.deps.config.metrics.port}), not here`);
    }
    if (method === "GET" && path === "/ready") {
      const reason = await this.notReadyReason();
      return reason ? sendJson(response, 503, { ready: false, reason }) : sendJson(response, 200, { ready: true });
    }
    try {
      if (method === "POST" && path === "/execute") {
        const caller = await this.authenticate(request, "sessions:execute");
        const { config, sandboxes, log, metrics } = this.deps;
        return await handleExecute(request, response, caller, {
          registry: this.registry,
          quotas: this.quotas,
          sandboxes,
          llm: this.llm,
          log,
          metrics,
          logCode: config.logCode,
          maxBodyBytes: config.server.maxFrameBytes,
          limits: this.limits,
          forwarded: wasForwarded(request),
          forward: (owner, body) => this.forwardHttp(request, response, owner, body),
        });
      }
      if (method === "GET" && SESSIONS_PATH.test(path)) {
        const caller = await this.authenticate(request, "sessions:read");
        return sendJson(response, 200, { sessions: await this.registry.list(caller) });
      }
      const id = SESSION_PATH.exec(path)?.[1];
      if (method === "DELETE" && id !== undefined) {
        const caller = await this.authenticate(request, "sessions:execute");
        await (await this.registry.find(id, caller, wasForwarded(request))).end("closed");
        response.writeHead(204).end();
        return;
      }
    } catch (error) {
      if (error instanceof HeldElsewhere) return this.forwardHttp(request, response, error);
      return this.answer(error, (refusal) => sendError(response, refusal.code, refusal.message, reasonOf(refusal)));
    }
    if (SESSIONS_PATH.test(path) || SESSION_PATH.test(path)) {
      return sendError(response, "bad_request", `${method} ${path} is not supported: sessions are WebSockets (GET with Upgrade: websocket); list with GET /v1/sessions, end with DELETE /v1/sessions/{id}`);
    }
    sendError(response, "not_found", `no route for ${method} ${path}; the routes are /v1/sessions, /execute, /health, /ready and /metrics`);
  }

  /** Passes an HTTP request to the server holding its session; `body` when it was already read. */
  private async forwardHttp(request: IncomingMessage, response: ServerResponse, owner: HeldElsewhere, body?: Buffer): Promise<void> {
    const reached = await this.forwarder.http(request, response, owner.address, body);
    this.deps.metrics.forwarded.inc({ kind: "http", outcome: reached ? "ok" : "unreachable" });
    if (!reached) sendError(response, "busy", unreachable(owner));
  }

  private async serveMetrics(response: ServerResponse): Promise<void> {
    const { metrics, log } = this.deps;
    try {
      const text = await metrics.text();
      response.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) });
      response.end(text);
    } catch (error) {
      log.error("metrics_failed", { error: (error as Error).message });
      sendJson(response, 500, { code: "internal", message: "the metrics could not be collected; see the server's log" });
    }
  }

  private async notReadyReason(): Promise<string | null> {
    if (this.draining) return "the server is shutting down";
    // An empty pool only makes requests wait; a pod that cannot start interpreters at all cannot serve.
    const failingSince = this.deps.sandboxes.pool.failingSince;
    if (failingSince !== null && performance.now() - failingSince >= BOOT_FAILURE_UNREADY_MS) {
      return `no interpreter could be started for ${Math.round((performance.now() - failingSince) / 1000)} s (${this.deps.sandboxes.pool.consecutiveFailures} boots failed in a row); see the server's log`;
    }
    try {
      await this.deps.store.ping();
    } catch (error) {
      return `the session store does not answer: ${(error as Error).message}`;
    }
    return null;
  }

  private async authenticate(request: IncomingMessage, scope: Scope): Promise<Identity> {
    try {
      const identity = await this.deps.verifier.verify(bearerToken(request, this.deps.config.auth.allowQueryToken));
      requireScope(identity, scope);
      return identity;
    } catch (error) {
      if (error instanceof AuthError) {
        this.deps.log.info("auth_failed", { reason: error.reason });
        this.deps.metrics.authFailed(error.reason);
      }
      throw error;
    }
  }

  /** Answers a refusal with `respond`; anything else is a bug and propagates. */
  private answer(error: unknown, respond: (refusal: Refusal) => void): void {
    if (error instanceof AuthError || error instanceof SessionError) return respond(error);
    throw error;
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const url = requestTarget(request.url);
    if (url === null) return refuseUpgrade(socket, "bad_request", badTarget(request.url));
    const id = SESSION_PATH.exec(url.pathname)?.[1];
    if (id === undefined && !SESSIONS_PATH.test(url.pathname)) {
      return refuseUpgrade(socket, "bad_request", `no WebSocket endpoint at ${url.pathname}; use /v1/sessions or /v1/sessions/{id}`);
    }
    if (this.draining) return refuseUpgrade(socket, "server_draining", "the server is shutting down; reconnect (through any other server)");
    const since = url.searchParams.get("since");
    if (since !== null && !/^\d+$/.test(since)) {
      return refuseUpgrade(socket, "bad_request", `since must be a sequence number (a whole number); got ${JSON.stringify(since)}`);
    }
    let identity: Identity;
    let session;
    try {
      identity = await this.authenticate(request, id === undefined ? "sessions:create" : "sessions:read");
      // A client just closed for its rate is refused until its allowance refills: before a session
      // is opened or woken for it, and before it can send a frame.
      const cut = this.rates.for(identity).refusal();
      if (cut) {
        const seconds = (cut.retryAfterMs / 1000).toFixed(1);
        return refuseUpgrade(socket, "quota_exceeded", `rate limit: ${cut.limit}; a connection of this client was closed for it, and its connections are refused until its allowance refills (in ${seconds} s)`);
      }
      session = id === undefined ? await this.registry.open(identity) : await this.registry.find(id, identity, wasForwarded(request));
    } catch (error) {
      if (error instanceof HeldElsewhere) {
        // The client's request as it came, token included: the owner authenticates it again.
        const reached = await this.forwarder.upgrade(request, socket, head, error.address);
        this.deps.metrics.forwarded.inc({ kind: "websocket", outcome: reached ? "ok" : "unreachable" });
        return reached ? undefined : refuseUpgrade(socket, "busy", unreachable(error));
      }
      return this.answer(error, (refusal) => refuseUpgrade(socket, refusal.code, refusal.message, reasonOf(refusal)));
    }
    const { maxConnectionsPerSession: maxConnections } = this.deps.config.server;
    // handleUpgrade attaches synchronously, so no other upgrade can slip in between.
    if (session.attached >= maxConnections) {
      return refuseUpgrade(socket, "quota_exceeded", `session ${session.id} already has ${maxConnections} connections (MAX_CONNECTIONS_PER_SESSION); close one first`);
    }
    const { verifier, clock, log, metrics } = this.deps;
    const allowance = this.rates.for(identity);
    // Past here the socket is a WebSocket: a bug attaching it closes it with 1011, not an HTTP 500.
    const attach = (ws: WebSocket) =>
      connect(ws, { session, identity, resumed: id !== undefined, since: since === null ? null : Number(since), verifier, clock, log, metrics, allowance, parser: this.parser, uploadIdleMs: this.deps.config.server.uploadIdleTimeout * 1000 });
    this.sockets.handleUpgrade(request, socket, head, guard(this.deps, "upgrade", attach, (ws) => ws.close(CLOSE.internal, "internal error")));
  }
}

/** How long every boot must have failed before the pod says it is not ready. */
const BOOT_FAILURE_UNREADY_MS = 30_000;

function unreachable(owner: HeldElsewhere): string {
  return `the server holding this session (${owner.pod}) is not answering; retry shortly: if it stopped, the session is recovered or reported lost once its heartbeat expires`;
}

function reasonOf(refusal: Refusal): string | undefined {
  return refusal instanceof AuthError ? refusal.reason : undefined;
}
