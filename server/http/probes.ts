// GET /health and GET /ready, as an orchestrator probes a pod: alive, and able to serve.
import type { SandboxRuntime } from "../sandbox/runtime.ts";
import type { SessionStore } from "../store/store.ts";
import type { HttpExchange, PublicRoute } from "./endpoint.ts";
import { sendJson } from "./responses.ts";

/** How long every boot must have failed before the pod says it is not ready. */
const BOOT_FAILURE_UNREADY_MS = 30_000;

export function health({ response }: HttpExchange): void {
  sendJson(response, 200, { status: "ok" });
}

export interface Readiness {
  /** The server is shutting down (App.drain). */
  draining(): boolean;
  sandboxes: Pick<SandboxRuntime, "pool">;
  store: Pick<SessionStore, "ping">;
}

export function ready(readiness: Readiness): PublicRoute["handle"] {
  return async ({ response }) => {
    const reason = await notReadyReason(readiness);
    if (reason) sendJson(response, 503, { ready: false, reason });
    else sendJson(response, 200, { ready: true });
  };
}

async function notReadyReason({ draining, sandboxes, store }: Readiness): Promise<string | null> {
  if (draining()) return "the server is shutting down";
  // An empty pool only makes requests wait; a pod that cannot start interpreters at all cannot serve.
  const { failingSince, consecutiveFailures } = sandboxes.pool;
  if (failingSince !== null && performance.now() - failingSince >= BOOT_FAILURE_UNREADY_MS) {
    return `no interpreter could be started for ${Math.round((performance.now() - failingSince) / 1000)} s (${consecutiveFailures} boots failed in a row); see the server's log`;
  }
  try {
    await store.ping();
  } catch (error) {
    return `the session store does not answer: ${(error as Error).message}`;
  }
  return null;
}
