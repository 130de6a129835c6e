// GET /metrics, unauthenticated: Prometheus scrapes it (the guide's annotations: port 8000, path
// /metrics). With METRICS_PORT it is served on that port alone, and the main port says where.
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { PublicRoute } from "./endpoint.ts";
import { sendError, sendJson } from "./responses.ts";

export function serveMetrics(metrics: Metrics, log: Logger): PublicRoute["handle"] {
  return async ({ response }) => {
    try {
      const text = await metrics.text();
      response.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) });
      response.end(text);
    } catch (error) {
      log.error("metrics_failed", { error: (error as Error).message });
      sendJson(response, 500, { code: "internal", message: "the metrics could not be collected; see the server's log" });
    }
  };
}

/** The main port's answer when the metrics have a port of their own. */
export function metricsElsewhere(port: number): PublicRoute["handle"] {
  return ({ response }) => sendError(response, "not_found", `metrics are served on their own port (METRICS_PORT=${port}), not here`);
}
