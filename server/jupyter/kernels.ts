// The Kernel Gateway's REST API, on the session registry: a kernel is a session (same owner,
// quotas, hibernation, routing), so starting one opens a session and the rest find it. Each
// handler is thin and keeps nothing: a kernel held by another server is passed to it as the v1
// routes pass sessions (http/forwarding.ts).
import type { Environment } from "../sessions/environment.ts";
import { randomUUID } from "node:crypto";
import { parseJson } from "../../protocol/json.ts";
import { fieldProblem, jsonObject, optional, string } from "../../protocol/schema.ts";
import type { SessionSummary } from "../../protocol/index.ts";
import { readBody } from "../http/body.ts";
import type { HttpExchange, PublicRoute, ScopedRoute } from "../http/endpoint.ts";
import type { OwnerForwarding } from "../http/forwarding.ts";
import { sendJson } from "../http/responses.ts";
import { param } from "../http/routes.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import { HeldElsewhere, SessionError } from "../sessions/errors.ts";
import type { Identity } from "../auth/identity.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { Attachment, Session } from "../sessions/session.ts";
import { kernelIdOf, sessionIdOf } from "./kernel-ids.ts";
import { apiVersion, KERNEL_NAME, kernelSpec, kernelSpecs } from "./kernelspec.ts";

export interface KernelsParts {
  registry: SessionRegistry;
  forwarding: OwnerForwarding;
  pythonVersion: string;
  /** The largest body POST /api/kernels takes (MAX_FRAME_BYTES). */
  maxBodyBytes: number;
}

/** A kernel as the Kernel Gateway describes one. */
export interface KernelModel {
  id: string;
  name: string;
  last_activity: string;
  execution_state: "idle" | "busy";
  connections: number;
}

export function kernelModel(summary: SessionSummary): KernelModel {
  return {
    id: kernelIdOf(summary.session_id),
    name: KERNEL_NAME,
    last_activity: summary.last_active_at,
    execution_state: summary.running ? "busy" : "idle",
    connections: summary.attached_clients,
  };
}

/** GET /api: which API this is (no token needed, as on jupyter-server). */
export const getApi: PublicRoute["handle"] = ({ response }) => sendJson(response, 200, apiVersion());

export function listKernelSpecs({ pythonVersion }: Pick<KernelsParts, "pythonVersion">): ScopedRoute["handle"] {
  return async ({ response }) => sendJson(response, 200, kernelSpecs(pythonVersion));
}

export function getKernelSpec({ pythonVersion }: Pick<KernelsParts, "pythonVersion">): ScopedRoute["handle"] {
  return async ({ response, params }) => {
    const name = param(params, "name");
    if (name !== KERNEL_NAME) throw new SessionError("session_not_found", `there is no kernelspec ${JSON.stringify(name)}; this server has "${KERNEL_NAME}"`);
    sendJson(response, 200, kernelSpec(pythonVersion));
  };
}

export function listKernels({ registry }: Pick<KernelsParts, "registry">): ScopedRoute["handle"] {
  return async ({ response }, caller) => sendJson(response, 200, (await registry.list(caller)).map(kernelModel));
}

const START_BODY = { name: optional(string), env: optional(jsonObject), path: optional(string) };

/** POST /api/kernels {name, env}: a new session, `env` its interpreter's os.environ additions (a gateway client sends its KERNEL_* variables). */
export function startKernel({ registry, maxBodyBytes }: Pick<KernelsParts, "registry" | "maxBodyBytes">): ScopedRoute["handle"] {
  return async ({ request, response }, caller) => {
    const body = await readBody(request, maxBodyBytes);
    if (body === null) throw new SessionError("too_large", `the request body is over ${maxBodyBytes} bytes (MAX_FRAME_BYTES)`);
    const text = body.toString("utf8").trim();
    const parsed = text === "" ? { ok: true as const, value: {} } : parseJson(text);
    if (!parsed.ok) throw new SessionError("bad_request", `the body ${parsed.message}; send {"name": "${KERNEL_NAME}"}`);
    const problem = jsonObject(parsed.value) ?? fieldProblem(parsed.value as Record<string, unknown>, START_BODY, Object.keys(parsed.value as object));
    if (problem) throw new SessionError("bad_request", `the body ${problem}`);
    const { name = KERNEL_NAME, env = {} } = parsed.value as { name?: string; env?: Environment };
    if (name !== KERNEL_NAME) throw new SessionError("bad_request", `there is no kernelspec ${JSON.stringify(name.slice(0, 60))}; this server has "${KERNEL_NAME}"`);
    const session = await registry.open(caller, { env });
    const model = kernelModel(session.summary());
    response.setHeader("location", `/api/kernels/${model.id}`);
    sendJson(response, 201, model);
  };
}

export function getKernel(parts: KernelsParts): ScopedRoute["handle"] {
  return (exchange, caller) => withKernel(parts, exchange, caller, async (session) => sendJson(exchange.response, 200, kernelModel(session.summary())));
}

export function deleteKernel(parts: KernelsParts): ScopedRoute["handle"] {
  return (exchange, caller) =>
    withKernel(parts, exchange, caller, async (session) => {
      await session.end("closed");
      exchange.response.writeHead(204).end();
    });
}

export function interruptKernel(parts: KernelsParts): ScopedRoute["handle"] {
  return (exchange, caller) =>
    withKernel(parts, exchange, caller, async (session) => {
      session.interrupt();
      exchange.response.writeHead(204).end();
    });
}

/**
 * POST /api/kernels/{id}/restart: what runs is interrupted, then the session gets a fresh
 * interpreter (queued like a cell, so work queued before it runs first); answered once it has one.
 */
export function restartKernel(parts: KernelsParts): ScopedRoute["handle"] {
  return (exchange, caller) =>
    withKernel(parts, exchange, caller, async (session) => {
      session.interrupt();
      await resetDone(session);
      sendJson(exchange.response, 200, kernelModel(session.summary()));
    });
}

/** Runs `act` on the kernel the path names, if the caller may see it; one held by another server is passed there. */
async function withKernel(parts: KernelsParts, { request, response, params }: HttpExchange, caller: Identity, act: (session: Session) => Promise<void>): Promise<void> {
  const kernelId = param(params, "id");
  const sessionId = sessionIdOf(kernelId);
  if (sessionId === null) throw new SessionError("session_not_found", `there is no kernel ${kernelId}; a kernel id is a UUID (or its 32 hex digits)`);
  let session: Session;
  try {
    session = await parts.registry.find(sessionId, caller, wasForwarded(request));
  } catch (error) {
    if (error instanceof HeldElsewhere) return parts.forwarding.http(request, response, error);
    throw goneAsMissing(error);
  }
  await act(session);
}

/**
 * A kernel that ended is missing to Jupyter's clients, which read 404 as "no such kernel" and
 * know no 410: session_expired and session_lost answer 404, their message saying which it was.
 */
export function goneAsMissing(error: unknown): unknown {
  if (error instanceof SessionError && (error.code === "session_expired" || error.code === "session_lost")) return new SessionError("session_not_found", error.message);
  return error;
}

/** Queues a reset and resolves once it is done; a refusal (busy, draining) or the session's end is thrown as the answer. */
function resetDone(session: Session): Promise<void> {
  const id = `jupyter-restart-${randomUUID()}`;
  return new Promise((resolve, reject) => {
    const watcher: Attachment = {
      deliver(event) {
        if (event.type === "evicted") {
          session.detach(watcher);
          return reject(new SessionError(event.resumable ? "server_draining" : "session_expired", `the kernel ended (${event.reason}) while it restarted`));
        }
        if ((event.type !== "result" && event.type !== "error") || event.id !== id) return;
        session.detach(watcher);
        if (event.type === "error") reject(new SessionError(event.code, event.message));
        else resolve();
      },
    };
    session.attach(watcher, null);
    session.reset(id);
  });
}
