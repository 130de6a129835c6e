// Error boundaries: every callback the event loop starts (a request, an upgrade, a frame, a timer)
// runs inside one, so a bug that throws fails that one callback, logged with its stack and
// counted, instead of ending the process and every session on it.
import type { Logger } from "./log.ts";

/** Where a failure was caught: the label of wasm_repl_internal_errors_total. */
export const BOUNDARIES = ["request", "upgrade", "metrics", "frame", "timer", "process"] as const;
export type Boundary = (typeof BOUNDARIES)[number];

/** What counts failures by where they were caught; the server's Metrics is one. */
export interface FailureCounter {
  internalError(where: Boundary): void;
}

/** Where failures are reported. Parts built without metrics (a sandbox) still log. */
export interface Reporter {
  log: Logger;
  metrics?: FailureCounter;
}

/** Logs a failure nothing else handled, with its stack, and counts it. */
export function report(reporter: Reporter, where: Boundary, error: unknown, fields: Record<string, unknown> = {}): void {
  try {
    const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
    reporter.log.error(where === "process" ? "unhandled_failure" : `${where}_failed`, { ...fields, error: message, stack });
    reporter.metrics?.internalError(where);
  } catch {
    // Reporting must not become the failure: a logger that throws (a full disk) loses this line.
  }
}

/**
 * `run` as a callback that never throws and never rejects: a failure is reported, then
 * `recover` answers for it (a 500, an `error` frame) with the callback's own arguments.
 */
export function guard<A extends unknown[]>(reporter: Reporter, where: Boundary, run: (...args: A) => unknown, recover?: (...args: A) => void): (...args: A) => void {
  const fail = (args: A, error: unknown) => {
    report(reporter, where, error);
    try {
      recover?.(...args);
    } catch (failed) {
      report(reporter, where, failed, { while: "recovering" });
    }
  };
  return (...args) => {
    try {
      const result = run(...args);
      if (result instanceof Promise) result.catch((error: unknown) => fail(args, error));
    } catch (error) {
      fail(args, error);
    }
  };
}

/**
 * The last boundary: a rejection or exception no other boundary caught is logged and counted,
 * and the process keeps serving. Every request, upgrade, frame and timer has a boundary of its
 * own, so what reaches here is a stray promise or a library's callback; the state it touched
 * belongs to that one request or session, whereas exiting would end every session on the pod.
 */
export function installProcessBoundary(reporter: Reporter): void {
  process.on("unhandledRejection", (reason) => report(reporter, "process", reason, { kind: "unhandled_rejection" }));
  process.on("uncaughtException", (error) => report(reporter, "process", error, { kind: "uncaught_exception" }));
}
