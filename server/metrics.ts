// Prometheus metrics: every metric of the server, in a registry of its own (not prom-client's
// global one, so several servers in one process do not collide). Parts that count are given the
// Metrics object; gauges of state kept elsewhere (sessions, the warm pool, the store's queue) are
// read when scraped, from sources bound with observe*().
// Every label is a bounded set: tenants only from the METRICS_TENANTS allowlist (others are
// "other"), models only the configured ones (others are "other"), never a session id, a user or
// anything a client chooses freely.
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";
import { CLIENT_FRAME_TYPES, type EvictionReason, type ServerFrame } from "../protocol/index.ts";
import type { AuthFailure } from "./auth/identity.ts";
import { BOUNDARIES, type Boundary } from "./boundary.ts";
import { EXIT_CAUSES, type ExitCause } from "./sandbox/sandbox.ts";
import { BUFFER_KINDS, type BufferKind } from "./sessions/buffers.ts";
import { CELL_OUTCOMES, HIBERNATION_FAILURES, type CellOutcome, type HibernationFailure, type SessionCount, type SessionMetrics, type StoreErrorKind } from "./sessions/session-metrics.ts";
import type { LlmMetrics } from "./llm/gateway.ts";
import type { RuntimeMetrics } from "./sandbox/runtime.ts";

export interface MetricsOptions {
  /** Tenants reported by name; every other tenant is reported as "other". */
  tenants: readonly string[];
  /** Models reported by name (LLM_MODEL, LLM_SUB_MODEL); any other a cell asks for is "other". */
  models: readonly string[];
}

export type BootSource = "base" | "snapshot";
export type Direction = "in" | "out";

const SERVER_FRAME_TYPES = ["session", "stream", "display", "clear_output", "input_request", "tool_call", "result", "error", "evicted", "pong", "authenticated"] as const;
// Fails to compile when the protocol gains a server frame this list lacks.
const serverTypesComplete: Exclude<ServerFrame["type"], (typeof SERVER_FRAME_TYPES)[number]> extends never ? true : never = true;
void serverTypesComplete;
/** Every message of the Jupyter door counts as one type, whatever its msg_type (which the client names). */
export const JUPYTER_FRAME_TYPE = "jupyter";
const FRAME_TYPES: ReadonlySet<string> = new Set<string>([...CLIENT_FRAME_TYPES, ...SERVER_FRAME_TYPES, JUPYTER_FRAME_TYPE]);

export const OTHER_TENANT = "other";
export const OTHER_MODEL = "other";
const MISNAMED_DEFAULT_METRICS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];
const PREFIX = "wasm_repl_";

/** Seconds, from half a millisecond to a minute: cells and queue waits. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BOOT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
/** 64 KiB to 4 GiB. */
const SNAPSHOT_BUCKETS = exponentialBuckets(64 * 1024, 4, 9);

export class Metrics implements SessionMetrics, RuntimeMetrics, LlmMetrics {
  readonly registry = new Registry();
  private readonly tenants: ReadonlySet<string>;
  private readonly models: ReadonlySet<string>;
  private sessionSource: () => Iterable<SessionCount> = () => [];
  private poolSource: () => { available: number; processes: number } = () => ({ available: 0, processes: 0 });
  private bufferSource: () => Readonly<Partial<Record<BufferKind, number>>> = () => ({});
  private storeSource: () => { pendingWrites: number; available: boolean } = () => ({ pendingWrites: 0, available: true });

  readonly sessionsOpened: Counter<"tenant">;
  readonly sessionsEnded: Counter<"tenant" | "reason">;
  readonly cells: Counter<"tenant" | "outcome">;
  readonly cellDuration: Histogram<"tenant">;
  readonly queueWait: Histogram<"tenant">;
  readonly sandboxBoot: Histogram<"source">;
  private readonly poolWaits: Histogram<"outcome">;
  readonly sandboxExits: Counter<"cause">;
  readonly wsConnections: Gauge;
  readonly wsFrames: Counter<"type" | "direction">;
  readonly authFailures: Counter<"reason">;
  readonly storeErrors: Counter<"kind">;
  readonly hibernations: Counter<"tenant">;
  readonly hibernationFailures: Counter<"reason">;
  readonly wakes: Counter<"tenant">;
  readonly snapshotStored: Histogram;
  // `model` is a configured model or "other": Python chooses the name it passes to llm_query.
  readonly llmCalls: Counter<"model" | "outcome">;
  readonly llmTokens: Counter<"model" | "kind">;
  /** Requests for a session another server holds, passed to it. */
  readonly forwarded: Counter<"kind" | "outcome">;
  /** Failures an error boundary caught (see boundary.ts): bugs, each answered for its one request. */
  readonly internalErrors: Counter<"where">;

  constructor(options: MetricsOptions) {
    this.tenants = new Set(options.tenants);
    this.models = new Set(options.models);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    // Gauges prom-client names *_total, which promtool refuses; each is the sum of the per-type
    // gauge kept beside it (nodejs_active_handles{type}, ...).
    for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(PREFIX + name);
    const tenantValues = [...this.tenants, OTHER_TENANT];
    const self = this;

    new Gauge({
      name: `${PREFIX}sessions`,
      help: "Sessions this server holds, by state (live: with an interpreter; hibernated: stored, woken by the next use)",
      labelNames: ["state", "tenant"] as const,
      registers,
      collect() {
        this.reset();
        for (const tenant of tenantValues) for (const state of ["live", "hibernated"]) this.set({ state, tenant }, 0);
        for (const session of self.sessionSource()) this.inc({ state: session.hibernated ? "hibernated" : "live", tenant: self.tenant(session.tenant) });
      },
    });
    this.sessionsOpened = new Counter({ name: `${PREFIX}sessions_opened_total`, help: "Sessions opened on this server", labelNames: ["tenant"] as const, registers });
    this.sessionsEnded = new Counter({
      name: `${PREFIX}sessions_ended_total`,
      help: "Sessions ended on this server, by reason (idle, lifetime, memory, shutdown, closed, lost)",
      labelNames: ["tenant", "reason"] as const,
      registers,
    });
    this.cells = new Counter({
      name: `${PREFIX}cells_total`,
      help: "Cells by outcome: ok, error (Python raised), timeout, killed (sandbox killed or died), cancelled, refused (never ran)",
      labelNames: ["tenant", "outcome"] as const,
      registers,
    });
    this.cellDuration = new Histogram({
      name: `${PREFIX}cell_duration_seconds`,
      help: "Time from a cell's start to its result, as the server measures it",
      labelNames: ["tenant"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: `${PREFIX}cell_queue_wait_seconds`,
      help: "Time a cell waited before it started: behind the session's other cells, or for a sandbox (POST /execute without a session)",
      labelNames: ["tenant"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.sandboxBoot = new Histogram({
      name: `${PREFIX}sandbox_boot_seconds`,
      help: "Time a sandbox took to boot, from the base snapshot or from a hibernated session's snapshot",
      labelNames: ["source"] as const,
      buckets: BOOT_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${PREFIX}pool_available_sandboxes`,
      help: "Booted interpreters waiting in the warm pool, for any identity",
      registers,
      collect() {
        this.set(self.poolSource().available);
      },
    });
    new Gauge({
      name: `${PREFIX}sandbox_processes`,
      help: "Sandbox processes running (each hosts interpreters of one identity)",
      registers,
      collect() {
        this.set(self.poolSource().processes);
      },
    });
    this.poolWaits = new Histogram({
      name: `${PREFIX}pool_wait_seconds`,
      help: "How long a request for an interpreter waited because none was ready, by outcome (served, or timeout: refused busy)",
      labelNames: ["outcome"] as const,
      buckets: BOOT_BUCKETS,
      registers,
    });
    this.sandboxExits = new Counter({
      name: `${PREFIX}sandbox_exits_total`,
      help: "Sandbox processes that ended, by cause (closed: stopped by the server; the others are kills and crashes)",
      labelNames: ["cause"] as const,
      registers,
    });
    new Gauge({
      name: `${PREFIX}buffered_bytes`,
      help: "Bytes clients make the server hold, by kind (upload: unfinished chunked payloads; queued: work waiting to run; unsent: frames not yet written to clients; replay: replay buffers), bounded by SESSION_BUFFER_MB and SERVER_BUFFER_MB",
      labelNames: ["kind"] as const,
      registers,
      collect() {
        const usage = self.bufferSource();
        for (const kind of BUFFER_KINDS) this.set({ kind }, usage[kind] ?? 0);
      },
    });
    this.wsConnections = new Gauge({ name: `${PREFIX}websocket_connections`, help: "Client WebSockets open now", registers });
    this.wsFrames = new Counter({
      name: `${PREFIX}websocket_frames_total`,
      help: "WebSocket frames by protocol type and direction (in: from clients; out: to clients); invalid: not a protocol frame",
      labelNames: ["type", "direction"] as const,
      registers,
    });
    this.authFailures = new Counter({ name: `${PREFIX}auth_failures_total`, help: "Refused authentications, by reason", labelNames: ["reason"] as const, registers });
    this.storeErrors = new Counter({
      name: `${PREFIX}store_errors_total`,
      help: "Session store failures: read (a caller got store_unavailable), write (a write failed), outage (the store stopped answering)",
      labelNames: ["kind"] as const,
      registers,
    });
    new Gauge({
      name: `${PREFIX}store_pending_writes`,
      help: "Writes queued while the session store is unreachable",
      registers,
      collect() {
        this.set(self.storeSource().pendingWrites);
      },
    });
    new Gauge({
      name: `${PREFIX}store_available`,
      help: "1 while the session store answers, 0 during an outage",
      registers,
      collect() {
        this.set(self.storeSource().available ? 1 : 0);
      },
    });
    this.hibernations = new Counter({ name: `${PREFIX}hibernations_total`, help: "Sessions hibernated", labelNames: ["tenant"] as const, registers });
    this.hibernationFailures = new Counter({
      name: `${PREFIX}hibernation_failures_total`,
      help: "Hibernations that failed (the session stays live), by reason: too_large, unsnapshottable, store",
      labelNames: ["reason"] as const,
      registers,
    });
    this.wakes = new Counter({ name: `${PREFIX}wakes_total`, help: "Hibernated sessions woken on this server", labelNames: ["tenant"] as const, registers });
    this.snapshotStored = new Histogram({
      name: `${PREFIX}snapshot_stored_bytes`,
      help: "Size of a hibernated session's snapshot as stored (a compressed delta from the base snapshot)",
      buckets: SNAPSHOT_BUCKETS,
      registers,
    });
    this.llmCalls = new Counter({ name: `${PREFIX}llm_calls_total`, help: "Calls to the LLM API (llm_query), by model and outcome", labelNames: ["model", "outcome"] as const, registers });
    this.llmTokens = new Counter({ name: `${PREFIX}llm_tokens_total`, help: "LLM tokens used, by model and kind (prompt, completion)", labelNames: ["model", "kind"] as const, registers });
    this.forwarded = new Counter({
      name: `${PREFIX}forwarded_total`,
      help: "Requests for a session another server holds, forwarded to it, by kind (websocket, http) and outcome (ok, unreachable)",
      labelNames: ["kind", "outcome"] as const,
      registers,
    });
    this.internalErrors = new Counter({
      name: `${PREFIX}internal_errors_total`,
      help: "Unexpected failures caught by an error boundary (answered 500 or error internal, or logged), by where: request, upgrade, metrics, frame, timer, process",
      labelNames: ["where"] as const,
      registers,
    });

    // Known label values start at zero, so rates and absences read right from the first scrape.
    for (const tenant of tenantValues) {
      for (const outcome of CELL_OUTCOMES) this.cells.inc({ tenant, outcome }, 0);
      this.sessionsOpened.inc({ tenant }, 0);
    }
    for (const cause of EXIT_CAUSES) this.sandboxExits.inc({ cause }, 0);
    for (const reason of HIBERNATION_FAILURES) this.hibernationFailures.inc({ reason }, 0);
    for (const kind of ["read", "write", "outage"] satisfies StoreErrorKind[]) this.storeErrors.inc({ kind }, 0);
    for (const where of BOUNDARIES) this.internalErrors.inc({ where }, 0);
  }

  /** The tenant as a label value: its name when allowlisted, otherwise "other". */
  tenant(name: string): string {
    return this.tenants.has(name) ? name : OTHER_TENANT;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  // ---- sources read at scrape ----

  observeSessions(source: () => Iterable<SessionCount>): void {
    this.sessionSource = source;
  }

  observeBuffers(usage: () => Readonly<Record<BufferKind, number>>): void {
    this.bufferSource = usage;
  }

  observePool(source: () => { available: number; processes: number }): void {
    this.poolSource = source;
  }

  observeStore(source: () => { pendingWrites: number; available: boolean }): void {
    this.storeSource = source;
  }

  // ---- events ----

  sessionOpened(tenant: string): void {
    this.sessionsOpened.inc({ tenant: this.tenant(tenant) });
  }

  sessionEnded(tenant: string, reason: EvictionReason): void {
    this.sessionsEnded.inc({ tenant: this.tenant(tenant), reason });
  }

  /** A cell that ended; `seconds` is how long it ran (omitted for one that never started). */
  cell(tenant: string, outcome: CellOutcome, seconds?: number): void {
    const label = this.tenant(tenant);
    this.cells.inc({ tenant: label, outcome });
    if (seconds !== undefined) this.cellDuration.observe({ tenant: label }, seconds);
  }

  cellStarted(tenant: string, waitedSeconds: number): void {
    this.queueWait.observe({ tenant: this.tenant(tenant) }, waitedSeconds);
  }

  sandboxBooted(source: BootSource, seconds: number): void {
    this.sandboxBoot.observe({ source }, seconds);
  }

  /** A take of an interpreter that found none ready; its count is the histogram's. */
  poolWaited(seconds: number, outcome: "served" | "timeout"): void {
    this.poolWaits.observe({ outcome }, seconds);
  }

  sandboxExited(cause: ExitCause): void {
    this.sandboxExits.inc({ cause });
  }

  /** A frame in or out; anything that is not a protocol frame type counts as "invalid". */
  frame(type: string | undefined, direction: Direction): void {
    this.wsFrames.inc({ type: type !== undefined && FRAME_TYPES.has(type) ? type : "invalid", direction });
  }

  authFailed(reason: AuthFailure): void {
    this.authFailures.inc({ reason });
  }

  storeError(kind: StoreErrorKind): void {
    this.storeErrors.inc({ kind });
  }

  hibernated(tenant: string, storedBytes: number): void {
    this.hibernations.inc({ tenant: this.tenant(tenant) });
    this.snapshotStored.observe(storedBytes);
  }

  hibernationFailed(reason: HibernationFailure): void {
    this.hibernationFailures.inc({ reason });
  }

  woken(tenant: string): void {
    this.wakes.inc({ tenant: this.tenant(tenant) });
  }

  internalError(where: Boundary): void {
    this.internalErrors.inc({ where });
  }

  /** A model call; `model` as asked for, reported as "other" unless it is a configured model. */
  llmCall(requested: string, outcome: "ok" | "error", tokens?: { prompt: number; completion: number }): void {
    const model = this.models.has(requested) ? requested : OTHER_MODEL;
    this.llmCalls.inc({ model, outcome });
    if (!tokens) return;
    this.llmTokens.inc({ model, kind: "prompt" }, tokens.prompt);
    this.llmTokens.inc({ model, kind: "completion" }, tokens.completion);
  }
}
