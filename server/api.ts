// Every route this server answers, each declared once: its method and path, the scope the
// caller's token must hold (null: anyone), and its handler. The answers to requests no route
// serves list the routes from here (http/routes.ts), so a new endpoint is one more entry.
import type { TokenVerifier } from "./auth/tokens.ts";
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { LlmService } from "./llm/service.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";
import type { SessionRegistry } from "./sessions/registry.ts";
import type { SessionStore } from "./store/store.ts";
import type { TenantQuotas } from "./tenancy/quotas.ts";
import { attachSession, openSession, sinceProblem, v1Subprotocol, type ConnectParts } from "./v1/endpoints.ts";
import type { Endpoint } from "./http/endpoint.ts";
import { jupyterRoutes, type JupyterParts } from "./jupyter/routes.ts";
import { execute, type ExecuteParts } from "./http/execute-endpoint.ts";
import { developmentToken } from "./http/development-token.ts";
import { deleteFile, listFiles, readFile, writeFile, type FilesParts } from "./http/files-endpoint.ts";
import type { FrameParser } from "./v1/frame-parser.ts";
import type { OwnerForwarding } from "./http/forwarding.ts";
import { metricsElsewhere, serveMetrics } from "./http/metrics-endpoint.ts";
import { servePage, servePageAsset } from "./http/page-endpoint.ts";
import { health, ready } from "./http/probes.ts";
import type { PageBundle } from "./page/bundle.ts";
import type { RateLimiter } from "./http/rate-limit.ts";
import { RouteTable } from "./http/routes.ts";
import { createSession, endSession, listSessions } from "./http/sessions-endpoint.ts";

/** What the handlers work with, built by compose.ts. */
export interface ApiParts {
  config: Config;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  verifier: TokenVerifier;
  sandboxes: SandboxRuntime;
  store: SessionStore;
  registry: SessionRegistry;
  quotas: TenantQuotas;
  llm: LlmService;
  rates: RateLimiter;
  parser: FrameParser;
  forwarding: OwnerForwarding;
  /** A development server's token for clients on this machine (see http/development-token.ts); null otherwise. */
  developmentToken: (() => Promise<string>) | null;
  /** The notebook page served at / (page/bundle.ts); null with PAGE=false. */
  page: PageBundle | null;
}

/** The main port's routes. `draining`: the server is shutting down (it turns not-ready). */
export function apiRoutes(parts: ApiParts, draining: () => boolean): RouteTable<Endpoint> {
  const { config, log, metrics, clock, verifier, sandboxes, store, registry, quotas, llm, rates, parser, forwarding, developmentToken: issueDevelopmentToken, page } = parts;
  const { server } = config;
  const connecting: ConnectParts = { registry, rates, forwarding, maxConnectionsPerSession: server.maxConnectionsPerSession, verifier, clock, log, metrics, parser, uploadIdleMs: server.uploadIdleTimeout * 1000 };
  const executing: ExecuteParts = {
    registry,
    quotas,
    sandboxes,
    llm,
    log,
    metrics,
    logCode: config.logCode,
    maxBodyBytes: server.maxFrameBytes,
    maxFileBytes: server.maxFileBytes,
    limits: { execution_timeout: server.executionTimeout, max_execution_timeout: server.maxExecutionTimeout },
  };
  const jupyter: JupyterParts = {
    registry,
    forwarding,
    rates,
    maxConnectionsPerSession: server.maxConnectionsPerSession,
    pythonVersion: sandboxes.environment.files.pythonVersion,
    maxBodyBytes: server.maxFrameBytes,
    clock,
    log,
    metrics,
  };
  const files: FilesParts = { registry, forwarding, maxFileBytes: server.maxFileBytes };
  const { port: metricsPort } = config.metrics;
  return new RouteTable<Endpoint>([
    { method: "WEBSOCKET", path: "/v1/sessions", scope: "sessions:create", queryProblem: sinceProblem, subprotocol: v1Subprotocol, handle: openSession(connecting) },
    { method: "WEBSOCKET", path: "/v1/sessions/:id", scope: "sessions:read", queryProblem: sinceProblem, subprotocol: v1Subprotocol, handle: attachSession(connecting) },
    { method: "POST", path: "/v1/sessions", scope: "sessions:create", handle: createSession(registry) },
    { method: "GET", path: "/v1/sessions", scope: "sessions:read", handle: listSessions(registry) },
    { method: "DELETE", path: "/v1/sessions/:id", scope: "sessions:execute", handle: endSession(registry, forwarding) },
    { method: "GET", path: "/v1/sessions/:id/files", scope: "sessions:read", handle: listFiles(files) },
    { method: "GET", path: "/v1/sessions/:id/files/*path", scope: "sessions:read", handle: readFile(files) },
    { method: "PUT", path: "/v1/sessions/:id/files/*path", scope: "sessions:execute", handle: writeFile(files) },
    { method: "DELETE", path: "/v1/sessions/:id/files/*path", scope: "sessions:execute", handle: deleteFile(files) },
    ...(issueDevelopmentToken ? [{ method: "GET" as const, path: "/v1/development-token", scope: null, handle: developmentToken(issueDevelopmentToken) }] : []),
    { method: "POST", path: "/execute", scope: "sessions:execute", handle: execute(executing, forwarding) },
    { method: "GET", path: "/health", scope: null, handle: health },
    { method: "GET", path: "/ready", scope: null, handle: ready({ draining, sandboxes, store }) },
    { method: "GET", path: "/metrics", scope: null, handle: metricsPort === null ? serveMetrics(metrics, log) : metricsElsewhere(metricsPort) },
    ...jupyterRoutes(jupyter),
    ...(page ? [{ method: "GET" as const, path: "/", scope: null, handle: servePage(page) }, { method: "GET" as const, path: "/page/*asset", scope: null, handle: servePageAsset(page) }] : []),
  ]);
}

/** The routes of METRICS_PORT, when the metrics have a port of their own. */
export function metricsPortRoutes({ metrics, log }: Pick<ApiParts, "metrics" | "log">): RouteTable<Endpoint> {
  return new RouteTable<Endpoint>([{ method: "GET", path: "/metrics", scope: null, handle: serveMetrics(metrics, log) }]);
}
