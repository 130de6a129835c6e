// The end-to-end workload, written once against the Driver interface and run on each server:
// session open, trivial cells, first stdout, throughput of parallel sessions, idle memory.
import { setTimeout as sleep } from "node:timers/promises";
import type { LocalsMode } from "../protocol/index.ts";
import type { Driver, DriverSession, Plan } from "./driver.ts";
import { children, cpuTicks, descendants, pssMib, ticksToSeconds, treePssMib, waitForQuiet } from "./processes.ts";
import { mean, percentile, summarize, type Summary } from "./stats.ts";

export type Better = "lower" | "higher";

/** One measured quantity: a median with its spread over repeated runs. */
export interface Figure {
  key: string;
  label: string;
  unit: string;
  summary: Summary;
  better: Better;
  decimals: number;
  /** Figures worth a look beside the summary; they go into the JSON line. */
  extra?: Record<string, number>;
}

export type Progress = (step: string) => void;

const TRIVIAL_CELL = "x = x + 1";
// Prints at once, then keeps running: the first chunk must arrive while the cell still runs.
const STDOUT_CELL = "print('hi', flush=True); import time; time.sleep(0.2)";
// Holds a little data, and burns 0.1 s of CPU so that the interpreters that ran it stand out from
// the idle ones (a wasm-repl server also holds warm sandboxes that belong to no session).
const MEMORY_CELL = [
  "import time",
  "data = [i * i for i in range(10_000)]",
  "started = time.perf_counter()",
  "while time.perf_counter() - started < 0.1: pass",
].join("\n");
const MEMORY_CELL_MIN_CPU_SECONDS = 0.05;
const IDLE_BEFORE_MEMORY_MS = 1000;
const SETTLE_TIMEOUT_MS = 30_000;
/** Bounds a throughput run by count as well as by time, whatever the server's speed. */
const MAX_CELLS_PER_SESSION_PER_RUN = 100_000;
const WARMUP_TIMEOUT_S = 60;

/**
 * Waits until the server would hand out a warm interpreter and nothing in its process tree is
 * busy (a pool refill, a kernel start-up, a session's clean-up), so that one measurement's
 * aftermath does not land in the next.
 */
export async function settle(driver: Driver, progress: Progress): Promise<void> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  while (!(await driver.ready())) {
    if (performance.now() > deadline) throw new Error(`${driver.name} was not ready within ${SETTLE_TIMEOUT_MS} ms`);
    await sleep(20);
  }
  const quiet = await waitForQuiet(driver.serverPid, { maxCoreShare: 0.05, windowMs: 250, timeoutMs: SETTLE_TIMEOUT_MS });
  if (!quiet) progress(`warning: ${driver.name}'s processes stayed busy for ${SETTLE_TIMEOUT_MS} ms; measuring anyway`);
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------
// 1. Session open, on a settled server: to the session's answer, and on to the first cell's result.

async function openSessions(driver: Driver, plan: Plan, progress: Progress, opened: DriverSession[]): Promise<Figure[]> {
  const openMs: number[] = [];
  const firstResultMs: number[] = [];
  for (let index = 0; index < plan.sessions; index++) {
    await settle(driver, progress);
    const started = performance.now();
    const session = await driver.open();
    openMs.push(performance.now() - started);
    opened.push(session);
    // The trivial cells need x; this first cell is also where wasm-repl takes its sandbox.
    await session.execute("x = 0");
    firstResultMs.push(performance.now() - started);
  }
  return [
    { key: "open_ms", label: "session open (to its answer), warm", unit: "ms", summary: summarize(openMs), better: "lower", decimals: 1 },
    { key: "open_first_result_ms", label: "  open + first cell `x = 0`", unit: "ms", summary: summarize(firstResultMs), better: "lower", decimals: 1 },
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. Memory of idle sessions: PSS of the interpreters that ran a cell, and of the server itself.

/** The server's children that burned CPU while every session ran MEMORY_CELL: the sessions' interpreters. */
async function interpretersOf(driver: Driver, sessions: readonly DriverSession[]): Promise<{ interpreters: number[]; others: number[] }> {
  const before = await cpuTicks(await children(driver.serverPid));
  for (const session of sessions) await session.execute(MEMORY_CELL);
  const after = await cpuTicks([...before.keys()]);
  const ran = (pid: number) => ticksToSeconds(after.get(pid)! - before.get(pid)!) >= MEMORY_CELL_MIN_CPU_SECONDS;
  const interpreters = [...before.keys()].filter(ran);
  if (interpreters.length !== sessions.length) {
    throw new Error(`${driver.name}: ${interpreters.length} child processes ran the memory cell, expected one per session (${sessions.length})`);
  }
  return { interpreters, others: [...before.keys()].filter((pid) => !ran(pid)) };
}

async function measureIdleMemory(driver: Driver, sessions: readonly DriverSession[], progress: Progress): Promise<Figure[]> {
  await settle(driver, progress);
  const { interpreters, others } = await interpretersOf(driver, sessions);
  await sleep(IDLE_BEFORE_MEMORY_MS);
  const perSession = await Promise.all(interpreters.map(treePssMib));
  const otherPss = await Promise.all(others.map(treePssMib));
  const serverPss = await pssMib(driver.serverPid);
  return [
    {
      key: "idle_session_pss_mib",
      label: `idle session PSS (its interpreter's processes; ${sessions.length} open)`,
      unit: "MiB",
      summary: summarize(perSession),
      better: "lower",
      decimals: 1,
      extra: {
        mean: mean(perSession),
        sum: perSession.reduce((sum, value) => sum + value, 0),
        // wasm-repl's warm pool: idle sandboxes that no session holds yet.
        other_children: others.length,
        other_children_pss_mib: otherPss.reduce((sum, value) => sum + value, 0),
      },
    },
    { key: "server_pss_mib", label: `server process PSS (${sessions.length} sessions open)`, unit: "MiB", summary: summarize([serverPss]), better: "lower", decimals: 1 },
  ];
}

// ---------------------------------------------------------------------------------------------
// 3. Throughput: every session runs trivial cells back to back for a while; cells per second overall.

interface ThroughputRun {
  cells: number;
  seconds: number;
  /** Cells of each session, in order. */
  perSession: number[];
}

/** Every session runs trivial cells back to back until the time is up or it has run its share. */
async function throughputRun(sessions: readonly DriverSession[], seconds: number, cellsPerSession = MAX_CELLS_PER_SESSION_PER_RUN): Promise<ThroughputRun> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const perSession = await Promise.all(
    sessions.map(async (session) => {
      let count = 0;
      while (performance.now() < deadline && count < cellsPerSession) {
        await session.execute(TRIVIAL_CELL);
        count++;
      }
      return count;
    }),
  );
  // Up to the last result: the cells in flight at the deadline are counted, so is their time.
  const cells = perSession.reduce((sum, count) => sum + count, 0);
  return { cells, seconds: (performance.now() - started) / 1000, perSession };
}

/** CPU time so far of the bench itself, of the server process, and of everything below it, in ms. */
async function cpuSplit(driver: Driver): Promise<{ client: number; server: number; interpreters: number }> {
  const below = await descendants(driver.serverPid);
  const ticks = await cpuTicks([driver.serverPid, ...below]);
  const interpreters = below.reduce((sum, pid) => sum + ticks.get(pid)!, 0);
  const { user, system } = process.cpuUsage();
  return { client: (user + system) / 1000, server: ticksToSeconds(ticks.get(driver.serverPid)!) * 1000, interpreters: ticksToSeconds(interpreters) * 1000 };
}

/**
 * Runs the throughput runs while reading where the CPU went: the bench, the server and the
 * interpreters share the cores, so CPU per cell says which of them limits the rate.
 */
async function throughputRuns(driver: Driver, runs: number, run: () => Promise<ThroughputRun>): Promise<{ runs: ThroughputRun[]; cpu: Record<string, number> }> {
  const before = await cpuSplit(driver);
  const done: ThroughputRun[] = [];
  for (let index = 0; index < runs; index++) done.push(await run());
  const after = await cpuSplit(driver);
  const cells = done.reduce((sum, each) => sum + each.cells, 0);
  const perCell = (part: keyof typeof before) => (after[part] - before[part]) / cells;
  return {
    runs: done,
    cpu: { cpu_ms_per_cell_client: perCell("client"), cpu_ms_per_cell_server: perCell("server"), cpu_ms_per_cell_interpreters: perCell("interpreters") },
  };
}

async function measureThroughput(driver: Driver, sessions: readonly DriverSession[], plan: Plan, progress: Progress): Promise<Figure[]> {
  await settle(driver, progress);
  const label = `cells/s, ${sessions.length} sessions in parallel`;
  // Fresh sessions, as a burst of new users gets them: a single run, since it cannot be repeated.
  const fresh = await throughputRuns(driver, 1, () => throughputRun(sessions, plan.throughputFreshSeconds));
  const ranFresh = fresh.runs[0]!.perSession;
  const warmupStarted = performance.now();
  const warmup = plan.throughputWarmupCellsPerSession;
  // Each session tops its count up to the warm-up, all of them at once as in the runs measured.
  await Promise.all(sessions.map((session, index) => throughputRun([session], WARMUP_TIMEOUT_S, Math.max(0, warmup - ranFresh[index]!))));
  const warmupSeconds = (performance.now() - warmupStarted) / 1000;
  const steady = await throughputRuns(driver, plan.throughputRuns, () => throughputRun(sessions, plan.throughputSeconds));
  const rate = (run: ThroughputRun) => run.cells / run.seconds;
  return [
    {
      key: "throughput_fresh_cells_per_s",
      label: `${label}, fresh (first ${plan.throughputFreshSeconds} s)`,
      unit: "cells/s",
      summary: summarize(fresh.runs.map(rate)),
      better: "higher",
      decimals: 0,
      extra: fresh.cpu,
    },
    {
      key: "throughput_cells_per_s",
      label: `${label}, warm (${warmup} cells each before)`,
      unit: "cells/s",
      summary: summarize(steady.runs.map(rate)),
      better: "higher",
      decimals: 0,
      extra: { ...steady.cpu, warmup_s: warmupSeconds },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 4. Round trip of a trivial cell, one at a time in one session.

async function cellBatch(session: DriverSession, locals: LocalsMode, count: number): Promise<number[]> {
  const roundTripMs: number[] = [];
  for (let cell = 0; cell < count; cell++) roundTripMs.push(await timed(() => session.execute(TRIVIAL_CELL, { locals })));
  return roundTripMs;
}

async function measureCells(driver: Driver, session: DriverSession, locals: LocalsMode, plan: Plan): Promise<Figure[]> {
  // The first cells are slower (cold caches, lazy compilation on both sides of the socket).
  await cellBatch(session, locals, plan.cellWarmup);
  const batches: number[][] = [];
  for (let batch = 0; batch < plan.cellBatches; batch++) batches.push(await cellBatch(session, locals, plan.cellsPerBatch));
  // Each batch gives one p50 and one p99; the spread is how those vary from batch to batch.
  const acrossBatches = (p: number) => summarize(batches.map((batch) => percentile(batch, p)));
  const name = driver.localsModes.length > 1 ? `cell \`${TRIVIAL_CELL}\`, locals "${locals}"` : `cell \`${TRIVIAL_CELL}\``;
  return [
    { key: `cell_${locals}_p50_ms`, label: `${name}, p50`, unit: "ms", summary: acrossBatches(50), better: "lower", decimals: 2 },
    { key: `cell_${locals}_p99_ms`, label: `${name}, p99`, unit: "ms", summary: acrossBatches(99), better: "lower", decimals: 2 },
  ];
}

// ---------------------------------------------------------------------------------------------
// 5. Streaming: from execute() to the first stdout chunk of a cell that goes on running.

async function measureFirstStdout(session: DriverSession, plan: Plan): Promise<Figure> {
  const firstMs: number[] = [];
  for (let run = 0; run < plan.stdoutRuns; run++) {
    let first: number | undefined;
    const started = performance.now();
    await session.execute(STDOUT_CELL, { onStdout: () => (first ??= performance.now()) });
    if (first === undefined) throw new Error("the cell printed, but no stdout arrived before its result");
    firstMs.push(first - started);
  }
  return { key: "first_stdout_ms", label: "first stdout of a running cell", unit: "ms", summary: summarize(firstMs), better: "lower", decimals: 1 };
}

// ---------------------------------------------------------------------------------------------

async function closeAll(sessions: DriverSession[]): Promise<void> {
  await Promise.allSettled(sessions.splice(0).map((session) => session.close()));
}

/** The whole workload on one server; every session it opened is closed, whatever failed. */
export async function runWorkload(driver: Driver, plan: Plan, progress: Progress): Promise<Figure[]> {
  const sessions: DriverSession[] = [];
  try {
    progress(`open ${plan.sessions} sessions one by one`);
    const figures = await openSessions(driver, plan, progress, sessions);
    progress("idle memory");
    figures.push(...(await measureIdleMemory(driver, sessions, progress)));
    progress(`throughput of ${sessions.length} sessions in parallel`);
    figures.push(...(await measureThroughput(driver, sessions, plan, progress)));
    // The one-at-a-time latencies run with a single session open, without the others' clean-up.
    const [single] = sessions.splice(0, 1);
    await closeAll(sessions);
    sessions.push(single!);
    await settle(driver, progress);
    for (const locals of driver.localsModes) {
      progress(`trivial cell round trip, locals "${locals}"`);
      figures.push(...(await measureCells(driver, single!, locals, plan)));
    }
    progress("first stdout");
    figures.push(await measureFirstStdout(single!, plan));
    return figures;
  } finally {
    await closeAll(sessions);
  }
}
