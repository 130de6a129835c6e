// How many open sessions one server holds when all but a few are hibernated: a real server as a
// child process (as in production), sessions opened over the SDK on loopback, the memory of the
// server and everything it started read from /proc once they sleep.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ReplSession } from "../client/session.ts";
import { figure, SMALL } from "./hibernation-cycle.ts";
import { children, descendants, pssMib, ServerProcess, treePssMib, waitForQuiet } from "./processes.ts";
import { summarize } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";
import type { Figure, Progress } from "./workload.ts";

const READY_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;
const POOL_SIZE = 2;
/** Sessions that stay live throughout: "all but 4 are hibernated". */
const KEPT_LIVE = 4;
export const TARGET_SESSIONS = 1000;
export const TARGET_TOTAL_PSS_MIB = 4096;
/** Opened at once: enough to keep the pool's boots busy on two cores, few enough not to queue. */
const BATCH = 4;
/**
 * Sessions awaiting hibernation the bench lets pile up before it waits: the server hibernates one
 * at a time, and each live sandbox holds ~100 MiB, so opening faster than it hibernates would only
 * grow memory (without this, a 2-minute run could hold hundreds of live sandboxes).
 */
const AWAITING_HIBERNATION_CAP = 8;
const HIBERNATE_WAIT_MS = 60_000;
const MIDDLE_READINGS = 3;
const FINAL_READINGS = 5;
const READING_INTERVAL_MS = 1000;
/** Fewer sessions hibernated after the halfway checkpoint make too short a baseline for a slope. */
const MIN_SESSIONS_FOR_SLOPE = 20;
/** Opens that may fail (and are counted) before the run is called off. */
const MAX_OPEN_FAILURES = 10;
// A running cell is never idle, so never hibernated; time.sleep in a sandbox waits without CPU.
// Its timeout stays under the server's MAX_EXECUTION_TIMEOUT (300 s); the loop starts another.
const BUSY_CELL = "import time; time.sleep(280)";
const BUSY_CELL_TIMEOUT_S = 290;

export interface CapacityPlan {
  /** Open sessions to reach, the live ones included. */
  sessions: number;
  /** How long opening may take; whatever count it reached by then is reported. */
  budgetMs: number;
}

// ---------------------------------------------------------------------------------------------
// The server.

/** The settings under test. No REDIS_URL: records and snapshots stay in the server process, so its PSS counts them. */
const CAPACITY_SETTINGS: Record<string, string> = {
  HIBERNATE_AFTER: "1",
  MAX_SESSIONS: "1100",
  TENANT_MAX_SESSIONS: "1100",
  TENANT_OPEN_RATE: "100000",
  TENANT_MAX_RUNNING: "64",
  IDLE_TIMEOUT: "3600",
  POOL_SIZE: String(POOL_SIZE),
  SESSION_MEMORY_MB: "512",
};

interface Server {
  process: ServerProcess;
  url: string;
  token: string;
}

async function startServer(): Promise<Server> {
  const { server, url, secret } = await launchServer(CAPACITY_SETTINGS, { name: "wasm-repl (hibernation)" });
  // One tenant and user for every session: the tenant limits above are set to hold them all.
  return { process: server, url, token: await benchToken(secret, "bench-hibernation") };
}

async function getJson(server: Server, path: string): Promise<{ ok: boolean; body: unknown }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { ok: response.ok, body: await response.json() };
}

async function waitUntilReady(server: Server): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!(await getJson(server, "/ready")).ok) {
    if (performance.now() > deadline) throw new Error("the server was not ready in time");
    await sleep(100);
  }
}

/** Sessions the server reports open (live or hibernated), from GET /v1/sessions. */
async function listedSessions(server: Server): Promise<number> {
  const { ok, body } = await getJson(server, "/v1/sessions");
  if (!ok) throw new Error(`GET /v1/sessions failed: ${JSON.stringify(body)}`);
  return (body as { sessions: unknown[] }).sessions.length;
}

/** The server's sandbox processes: live sessions', the warm pool's, boots in flight. */
async function sandboxPids(serverPid: number): Promise<number[]> {
  const pids = await children(serverPid);
  const commands = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
  return pids.filter((_, index) => commands[index]!.includes("guest/main.ts"));
}

/** Waits until the server runs at most `count` sandboxes; false if the deadline came first. */
async function waitForSandboxes(serverPid: number, count: number, deadline: number): Promise<boolean> {
  while ((await sandboxPids(serverPid)).length > count) {
    if (performance.now() > deadline) return false;
    await sleep(250);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Sessions.

async function runSmallCell(session: ReplSession, code: string): Promise<void> {
  const result = await session.execute(code, { locals: "none" });
  if (!result.success) throw new Error(`cell failed: ${result.error?.type}: ${result.error?.message}`);
}

/**
 * Opens a session, gives it an interpreter holding a few variables, and drops the connection:
 * sessions outlive their connections, and a thousand idle sockets would only measure the sockets.
 */
async function openToHibernate(server: Server): Promise<string> {
  const session = await ReplSession.open(server.url, { token: server.token, reconnect: false });
  try {
    await runSmallCell(session, SMALL.setup);
    return session.id;
  } finally {
    session.disconnect();
  }
}

/**
 * Sessions kept live, their connections open, each running a long sleep cell after another. Each
 * starts its first sleep right after its first cell: one that waited for the others to open would
 * idle past HIBERNATE_AFTER and hibernate.
 */
class KeptLive {
  private stopped = false;
  private readonly sessions: ReplSession[] = [];
  private readonly loops: Promise<void>[] = [];

  async open(server: Server, count: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      const session = await ReplSession.open(server.url, { token: server.token, reconnect: false });
      this.sessions.push(session);
      await runSmallCell(session, SMALL.setup);
      this.loops.push(this.keepBusy(session));
    }
  }

  get count(): number {
    return this.sessions.length;
  }

  private async keepBusy(session: ReplSession): Promise<void> {
    while (!this.stopped) {
      try {
        await session.execute(BUSY_CELL, { timeout: BUSY_CELL_TIMEOUT_S, locals: "none" });
      } catch {
        return; // disconnected (stop) or the server went
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const session of this.sessions) session.disconnect();
    await Promise.all(this.loops);
  }
}

/** Sessions opened to hibernate, accumulated over the phases of the run. */
interface Opened {
  ids: string[];
  failures: number;
  firstFailure: string | null;
  /** Spent opening (not waiting for hibernation between phases). */
  seconds: number;
}

/** Opens sessions in batches until `opened` holds `count` or the deadline, never far ahead of hibernation. */
async function openMany(server: Server, opened: Opened, count: number, deadline: number, progress: Progress): Promise<void> {
  const started = performance.now();
  let reported = opened.ids.length;
  while (opened.ids.length < count && performance.now() < deadline) {
    await waitForSandboxes(server.process.pid, KEPT_LIVE + POOL_SIZE + AWAITING_HIBERNATION_CAP, deadline);
    const size = Math.min(BATCH, count - opened.ids.length);
    const batch = await Promise.allSettled(Array.from({ length: size }, () => openToHibernate(server)));
    for (const outcome of batch) {
      if (outcome.status === "fulfilled") opened.ids.push(outcome.value);
      else opened.firstFailure ??= String((outcome.reason as Error)?.message ?? outcome.reason).split("\n")[0]!;
    }
    opened.failures += batch.filter((outcome) => outcome.status === "rejected").length;
    if (opened.failures > MAX_OPEN_FAILURES) throw new Error(`${opened.failures} sessions failed to open; the first: ${opened.firstFailure}`);
    if (opened.ids.length - reported >= 50) {
      reported = opened.ids.length;
      progress(`capacity: ${reported} sessions opened`);
    }
  }
  opened.seconds += since(started);
}

function since(started: number): number {
  return (performance.now() - started) / 1000;
}

/**
 * Attaches to the first, the middle and the last hibernated session and runs a cell that needs
 * their variables: they sleep, they are not lost.
 */
async function wakeThroughServer(server: Server, ids: readonly string[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const picks = [...new Set([0, Math.floor(ids.length / 2), ids.length - 1].map((index) => ids[index]!))];
  const wakeMs: number[] = [];
  for (const id of picks) {
    const started = performance.now();
    const session = await ReplSession.attach(server.url, id, { token: server.token, reconnect: false });
    try {
      await runSmallCell(session, SMALL.check);
      wakeMs.push(performance.now() - started);
    } finally {
      session.disconnect();
    }
  }
  return wakeMs;
}

// ---------------------------------------------------------------------------------------------
// Memory.

interface MemoryReading {
  totalMib: number;
  serverMib: number;
  sandboxes: number;
}

async function readMemory(serverPid: number): Promise<MemoryReading> {
  const [totalMib, serverMib, sandboxes] = await Promise.all([treePssMib(serverPid), pssMib(serverPid), sandboxPids(serverPid)]);
  return { totalMib, serverMib, sandboxes: sandboxes.length };
}

/** The server once all but KEPT_LIVE sessions sleep: how many it holds and its memory. */
interface Checkpoint {
  held: number;
  hibernated: number;
  /** False when sessions still had a sandbox after HIBERNATE_WAIT_MS (measured anyway). */
  settled: boolean;
  waitedSeconds: number;
  readings: MemoryReading[];
}

async function checkpoint(server: Server, held: number, readingCount: number): Promise<Checkpoint> {
  const pid = server.process.pid;
  const started = performance.now();
  const settled = await waitForSandboxes(pid, KEPT_LIVE + POOL_SIZE, started + HIBERNATE_WAIT_MS);
  const waitedSeconds = since(started);
  // The last hibernations' clean-up and the pool's refill must not land in the readings.
  await waitForQuiet(pid, { maxCoreShare: 0.1, windowMs: 500, timeoutMs: 20_000 });
  const readings: MemoryReading[] = [];
  for (let index = 0; index < readingCount; index++) {
    if (index > 0) await sleep(READING_INTERVAL_MS);
    readings.push(await readMemory(pid));
  }
  // Every sandbox beyond the warm pool belongs to a live session.
  const live = Math.max(0, readings.at(-1)!.sandboxes - POOL_SIZE);
  return { held, hibernated: held - live, settled, waitedSeconds, readings };
}

/** Processes of the server's tree still there after it stopped (should be none). */
async function leftBehind(pids: readonly number[]): Promise<number[]> {
  const alive = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").then((command) => command.includes("guest/main.ts"), () => false)));
  return pids.filter((_, index) => alive[index]);
}

// ---------------------------------------------------------------------------------------------
// Figures.

export interface CapacityReport {
  figures: Figure[];
  notes: string[];
}

/** Per final reading: the server's growth since it was empty, per hibernated session. */
function averageMib(end: Checkpoint, baseline: MemoryReading): number[] {
  return end.readings.map((reading) => (reading.serverMib - baseline.serverMib) / Math.max(1, end.hibernated));
}

/**
 * Per final reading: the server's growth since the halfway checkpoint, per session hibernated in
 * between. The first hibernations grow the server's heap once for all (buffers, compiled code,
 * garbage not yet collected), which the average charges to every session; this does not, but a
 * few MiB of garbage collected or not makes it noisy. Null when too few sessions came after the
 * checkpoint to tell.
 */
function marginalMib(middle: Checkpoint, end: Checkpoint): number[] | null {
  const added = end.hibernated - middle.hibernated;
  if (added < MIN_SESSIONS_FOR_SLOPE) return null;
  const middleServer = summarize(middle.readings.map((reading) => reading.serverMib)).median;
  return end.readings.map((reading) => (reading.serverMib - middleServer) / added);
}

/** Total PSS with TARGET_SESSIONS open, each session short of it costing `perSession` (per reading). */
function atTarget(end: Checkpoint, perSession: number[]): number[] {
  return end.readings.map((reading, index) => reading.totalMib + Math.max(0, TARGET_SESSIONS - end.held) * perSession[index]!);
}

function capacityFigures(plan: CapacityPlan, baseline: MemoryReading, middle: Checkpoint, end: Checkpoint, wakeMs: number[]): Figure[] {
  const average = averageMib(end, baseline);
  const marginal = marginalMib(middle, end);
  const extrapolated = end.held < TARGET_SESSIONS;
  const figures = [
    figure("capacity_sessions", `open sessions held, ${KEPT_LIVE} live and the rest hibernated`, "sessions", [end.held], "higher", 0, {
      hibernated: end.hibernated,
      live: end.held - end.hibernated,
      // 1: opening stopped at the time budget, not at the count asked for.
      bound_by_time_budget: end.held < plan.sessions ? 1 : 0,
    }),
    figure("capacity_total_pss_mib", "  total PSS: server + all its processes", "MiB", end.readings.map((reading) => reading.totalMib), "lower", 0, {
      server_pss_mib: summarize(end.readings.map((reading) => reading.serverMib)).median,
      sandbox_processes: end.readings.at(-1)!.sandboxes,
      empty_server_total_pss_mib: baseline.totalMib,
      empty_server_pss_mib: baseline.serverMib,
    }),
    figure("capacity_pss_per_hibernated_mib", `  PSS per hibernated session: server growth since empty ÷ ${end.hibernated} (upper bound)`, "MiB", average, "lower", 3),
  ];
  if (marginal) {
    figures.push(figure("capacity_pss_per_hibernated_marginal_mib", `  PSS per hibernated session: growth since halfway ÷ ${end.hibernated - middle.hibernated}`, "MiB", marginal, "lower", 3));
  }
  if (extrapolated) {
    figures.push(figure("capacity_total_pss_at_1000_mib", `  total PSS at ${TARGET_SESSIONS} sessions, extrapolated with the upper bound`, "MiB", atTarget(end, average), "lower", 0));
    if (marginal) figures.push(figure("capacity_total_pss_at_1000_marginal_mib", `  total PSS at ${TARGET_SESSIONS} sessions, extrapolated with the growth since halfway`, "MiB", atTarget(end, marginal), "lower", 0));
  } else {
    figures.push(figure("capacity_total_pss_at_1000_mib", `  total PSS with ${end.held} sessions open (measured)`, "MiB", end.readings.map((reading) => reading.totalMib), "lower", 0));
  }
  if (wakeMs.length > 0) figures.push(figure("wake_via_server_ms", "wake through the server: attach + first cell (small)", "ms", wakeMs, "lower", 0));
  return figures;
}

function notesOf(plan: CapacityPlan, opened: Opened, middle: Checkpoint, end: Checkpoint, listed: number, baseline: MemoryReading): string[] {
  const bound = end.held < plan.sessions ? `the time budget of ${(plan.budgetMs / 1000).toFixed(0)} s` : "the count";
  const rate = opened.ids.length / Math.max(opened.seconds, 0.001);
  const settledText = (point: Checkpoint) =>
    point.settled
      ? `all but ${KEPT_LIVE} hibernated ${point.waitedSeconds.toFixed(0)} s after the last open`
      : `${point.held - point.hibernated} sessions still had a sandbox after ${(HIBERNATE_WAIT_MS / 1000).toFixed(0)} s (expected ${KEPT_LIVE}): measured anyway`;
  const middleServer = summarize(middle.readings.map((reading) => reading.serverMib)).median;
  return [
    `capacity: ${end.held} sessions opened (${rate.toFixed(2)}/s while opening; bound by ${bound}), ${opened.failures} failed to open${opened.firstFailure ? ` (first: ${opened.firstFailure})` : ""}; GET /v1/sessions lists ${listed} open`,
    `capacity: halfway checkpoint: ${middle.held} open, ${settledText(middle)}, server PSS ${middleServer.toFixed(0)} MiB; at the end: ${settledText(end)}; ${end.readings.at(-1)!.sandboxes} sandbox processes (${end.held - end.hibernated} live sessions + ${POOL_SIZE} warm pool)`,
    `capacity: hibernated sessions' WebSockets were closed after their first cell (sessions outlive connections); the ${KEPT_LIVE} live ones keep theirs open, running \`${BUSY_CELL}\``,
    `capacity: no REDIS_URL, so records and snapshots live in the server process and its PSS counts them; the empty server: ${baseline.totalMib.toFixed(0)} MiB in all, of which the server process ${baseline.serverMib.toFixed(0)} MiB`,
  ];
}

// ---------------------------------------------------------------------------------------------

/** Opens sessions on a running server, lets all but KEPT_LIVE hibernate, reads the memory. */
async function measureOn(server: Server, plan: CapacityPlan, live: KeptLive, progress: Progress): Promise<CapacityReport> {
  const started = performance.now();
  await waitUntilReady(server);
  await waitForQuiet(server.process.pid, { maxCoreShare: 0.05, windowMs: 250, timeoutMs: 30_000 });
  const baseline = await readMemory(server.process.pid);
  await live.open(server, KEPT_LIVE);
  const toOpen = plan.sessions - live.count;
  const opened: Opened = { ids: [], failures: 0, firstFailure: null, seconds: 0 };
  progress(`capacity: opening up to ${plan.sessions} sessions within ${(plan.budgetMs / 1000).toFixed(0)} s`);
  // Half of them (or of the time), then a checkpoint, then the rest: see marginalMib.
  await openMany(server, opened, Math.ceil(toOpen / 2), started + plan.budgetMs / 2, progress);
  progress(`capacity: ${opened.ids.length + live.count} open; halfway checkpoint`);
  const middle = await checkpoint(server, opened.ids.length + live.count, MIDDLE_READINGS);
  await openMany(server, opened, toOpen, started + plan.budgetMs, progress);
  progress(`capacity: ${opened.ids.length + live.count} open; waiting for all but ${KEPT_LIVE} to hibernate`);
  const end = await checkpoint(server, opened.ids.length + live.count, FINAL_READINGS);
  const listed = await listedSessions(server);
  progress("capacity: waking a few hibernated sessions through the server");
  const wakeMs = await wakeThroughServer(server, opened.ids);
  return { figures: capacityFigures(plan, baseline, middle, end, wakeMs), notes: notesOf(plan, opened, middle, end, listed, baseline) };
}

/** Stops the server; returns the sandbox processes of its tree that outlived it (should be none). */
async function stopServer(server: Server, live: KeptLive): Promise<number[]> {
  await live.stop();
  const tree = await descendants(server.process.pid);
  await server.process.stop();
  return leftBehind(tree);
}

/** Starts a server, measures how many sleeping sessions it holds, stops it and everything it started. */
export async function measureCapacity(plan: CapacityPlan, progress: Progress): Promise<CapacityReport> {
  progress("capacity: starting the server");
  const server = await startServer();
  const live = new KeptLive();
  let report: CapacityReport;
  let left: number[];
  try {
    report = await measureOn(server, plan, live, progress);
  } finally {
    progress("capacity: stopping the server");
    left = await stopServer(server, live);
  }
  report.notes.push(left.length === 0 ? "capacity: after the stop, none of the server's sandbox processes was left" : `capacity: WARNING: ${left.length} sandbox process(es) outlived the server: ${left.join(", ")}`);
  return report;
}
