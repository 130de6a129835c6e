// The Jupyter door's routes, for the server's table (api.ts): the Kernel Gateway's REST API
// (kernels.ts) and each kernel's channels WebSocket (channels.ts), in the shapes jupyter-server's
// gateway client, nbclient and JupyterLab use.
import type { Clock } from "../clock.ts";
import type { Endpoint, WebSocketRoute } from "../http/endpoint.ts";
import { param } from "../http/routes.ts";
import { upgradeToSession, type SessionUpgradeParts } from "../http/session-upgrade.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import { SessionError } from "../sessions/errors.ts";
import { connectChannels } from "./channels.ts";
import { framingOf, subprotocolFor } from "./framing.ts";
import { sessionIdOf } from "./kernel-ids.ts";
import { deleteKernel, getApi, getKernel, getKernelSpec, goneAsMissing, interruptKernel, listKernels, listKernelSpecs, restartKernel, startKernel, type KernelsParts } from "./kernels.ts";

export interface JupyterParts extends KernelsParts, SessionUpgradeParts {
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

export function jupyterRoutes(parts: JupyterParts): Endpoint[] {
  return [
    { method: "GET", path: "/api", scope: null, handle: getApi },
    { method: "GET", path: "/api/kernelspecs", scope: "sessions:read", handle: listKernelSpecs(parts) },
    { method: "GET", path: "/api/kernelspecs/:name", scope: "sessions:read", handle: getKernelSpec(parts) },
    { method: "GET", path: "/api/kernels", scope: "sessions:read", handle: listKernels(parts) },
    { method: "POST", path: "/api/kernels", scope: "sessions:create", handle: startKernel(parts) },
    { method: "GET", path: "/api/kernels/:id", scope: "sessions:read", handle: getKernel(parts) },
    { method: "DELETE", path: "/api/kernels/:id", scope: "sessions:execute", handle: deleteKernel(parts) },
    { method: "POST", path: "/api/kernels/:id/interrupt", scope: "sessions:execute", handle: interruptKernel(parts) },
    { method: "POST", path: "/api/kernels/:id/restart", scope: "sessions:execute", handle: restartKernel(parts) },
    { method: "WEBSOCKET", path: "/api/kernels/:id/channels", scope: "sessions:read", subprotocol: subprotocolFor, handle: channels(parts) },
  ];
}

function channels(parts: JupyterParts): WebSocketRoute["handle"] {
  const { registry, pythonVersion, clock, log, metrics } = parts;
  return async (exchange, identity) => {
    const kernelId = param(exchange.params, "id");
    const sessionId = sessionIdOf(kernelId);
    if (sessionId === null) throw new SessionError("session_not_found", `there is no kernel ${kernelId}; a kernel id is a UUID (or its 32 hex digits)`);
    const find = () => registry.find(sessionId, identity, wasForwarded(exchange.request)).catch((error: unknown) => Promise.reject(goneAsMissing(error)));
    await upgradeToSession(parts, exchange, identity, find, (ws, session, allowance) =>
      connectChannels(ws, { session, identity, framing: framingOf(ws.protocol), pythonVersion, clock, log, metrics, allowance }),
    );
  };
}
