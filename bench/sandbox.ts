// Benchmark of the sandbox runtime: what a session pays to get an interpreter (boot, pool take),
// to run a trivial cell, to stop a runaway cell, and what an idle interpreter costs in memory.
// Prints a table with each figure's median, spread and target, then one JSON line for tools.
// Missed targets are reported, not failures: the exit code is 0 whenever the bench completes.
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../server/config.ts";
import { createLogger } from "../server/log.ts";
import { startSandboxRuntime, type SandboxRuntime } from "../server/sandbox/runtime.ts";
import type { LocalsMode } from "../server/sandbox/ipc.ts";
import type { Sandbox } from "../server/sandbox/sandbox.ts";
import { formatNumber, formatRange, formatTable, percentile, roundSummary, summarize, verdict, type Summary } from "./stats.ts";

// Counts chosen to stay well inside a 1–2 minute budget on a 2-core machine (a run takes 25–40 s):
// enough runs for a stable median, few enough that the bench is run often.
const POOL_SIZE = 2;
const BOOT_RUNS = 8;
const TAKE_RUNS = 10;
const CELL_BATCHES = 3;
const CELLS_PER_BATCH = 2000;
// The first cells of a sandbox are slower (cold caches, lazy compilation in V8 and CPython).
const CELL_WARMUP = 200;
const INTERRUPT_RUNS = 10;
// Long enough for the cell to be really running Python (not still in the pipe) when interrupted.
const INTERRUPT_AFTER_MS = 100;
const MEMORY_SANDBOXES = 3;
const MEMORY_SETTLE_MS = 1000;
const POOL_FILL_TIMEOUT_MS = 60_000;
const LONG_CELL_TIMEOUT_MS = 120_000;

const TARGETS = {
  boot_ms: 700,
  pool_take_ms: 5,
  cell_p50_us: 500,
  interrupt_ms: 20,
  idle_pss_mib: 90,
};

/** One line of the report: a median with its spread, and the target it is held to, if any. */
interface Figure {
  key: string;
  label: string;
  unit: string;
  summary: Summary;
  target?: number;
  /** Counts worth a look beside the timings (they go into the JSON line too). */
  counts?: Record<string, number>;
  /** Printed under the table when something went wrong that a median would hide. */
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// Sandboxes held by the bench: every one is closed at the end, whatever failed in between.

const held = new Set<Sandbox>();

function hold(sandbox: Sandbox): Sandbox {
  held.add(sandbox);
  return sandbox;
}

async function release(sandbox: Sandbox): Promise<void> {
  held.delete(sandbox);
  await sandbox.close();
}

/**
 * Waits until the pool holds its full size again. Besides making a take hit a full pool, this keeps
 * the refills' boots (CPU-bound, on only two cores) from running under the next measurement.
 */
async function waitForFullPool(runtime: SandboxRuntime): Promise<void> {
  const deadline = performance.now() + POOL_FILL_TIMEOUT_MS;
  while (runtime.pool.available < POOL_SIZE) {
    if (performance.now() > deadline) throw new Error(`the pool did not refill within ${POOL_FILL_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

/** Closes every sandbox; waits for the pool's boots first, as its close does not stop those in flight. */
async function cleanUp(runtime: SandboxRuntime): Promise<void> {
  await waitForFullPool(runtime).catch(() => {});
  await Promise.all([...held].map(release));
  await runtime.close();
}

function progress(text: string): void {
  process.stderr.write(`bench:sandbox ${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// 1. Boot from the snapshot, outside the pool.

async function measureBoot(runtime: SandboxRuntime): Promise<Figure[]> {
  const wallMs: number[] = [];
  const guestMs: number[] = [];
  for (let run = 0; run < BOOT_RUNS; run++) {
    const started = performance.now();
    const sandbox = hold(await runtime.start());
    wallMs.push(performance.now() - started);
    guestMs.push(sandbox.bootMs);
    await release(sandbox);
  }
  return [
    { key: "boot_ms", label: "boot from snapshot (host wall)", unit: "ms", summary: summarize(wallMs), target: TARGETS.boot_ms },
    { key: "boot_guest_ms", label: "  of which guest-reported bootMs", unit: "ms", summary: summarize(guestMs) },
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. Take from a full warm pool.

async function measurePoolTake(runtime: SandboxRuntime): Promise<Figure[]> {
  const takeMs: number[] = [];
  for (let run = 0; run < TAKE_RUNS; run++) {
    await waitForFullPool(runtime);
    const started = performance.now();
    const sandbox = hold(await runtime.pool.take());
    takeMs.push(performance.now() - started);
    await release(sandbox);
  }
  return [{ key: "pool_take_ms", label: "take from warm pool", unit: "ms", summary: summarize(takeMs), target: TARGETS.pool_take_ms }];
}

// ---------------------------------------------------------------------------------------------
// 3. Round trip of a trivial cell: host → sandbox main thread → worker → Python → back.

interface CellBatch {
  roundTripUs: number[];
  /** The guest's execution_time: parsing, compiling and running the code, nothing around it. */
  pythonUs: number[];
}

async function runCells(sandbox: Sandbox, locals: LocalsMode, count: number): Promise<CellBatch> {
  const batch: CellBatch = { roundTripUs: [], pythonUs: [] };
  for (let cell = 0; cell < count; cell++) {
    const started = performance.now();
    const result = await sandbox.execute({ code: "x = x + 1", timeoutMs: 10_000, locals });
    batch.roundTripUs.push((performance.now() - started) * 1000);
    if (!result.success) throw new Error(`the trivial cell failed: ${result.error?.type}: ${result.error?.message}`);
    batch.pythonUs.push(result.execution_time * 1e6);
  }
  return batch;
}

async function measureCellMode(sandbox: Sandbox, locals: LocalsMode): Promise<Figure[]> {
  await runCells(sandbox, locals, CELL_WARMUP);
  const batches: CellBatch[] = [];
  for (let batch = 0; batch < CELL_BATCHES; batch++) batches.push(await runCells(sandbox, locals, CELLS_PER_BATCH));
  // Each batch gives one p50 and one p99; the spread is how those vary from batch to batch.
  const acrossBatches = (pick: (batch: CellBatch) => number[], p: number) => summarize(batches.map((batch) => percentile(pick(batch), p)));
  const name = `cell x = x + 1, locals "${locals}"`;
  return [
    { key: `cell_${locals}_p50_us`, label: `${name}, p50`, unit: "µs", summary: acrossBatches((b) => b.roundTripUs, 50), target: TARGETS.cell_p50_us },
    { key: `cell_${locals}_p99_us`, label: `${name}, p99`, unit: "µs", summary: acrossBatches((b) => b.roundTripUs, 99) },
    { key: `cell_${locals}_python_p50_us`, label: "  of which parse+compile+exec (guest), p50", unit: "µs", summary: acrossBatches((b) => b.pythonUs, 50) },
  ];
}

async function measureCells(runtime: SandboxRuntime): Promise<Figure[]> {
  const sandbox = hold(await runtime.pool.take());
  await waitForFullPool(runtime);
  await sandbox.execute({ code: "x = 0", timeoutMs: 10_000, locals: "none" });
  const figures = [...(await measureCellMode(sandbox, "none")), ...(await measureCellMode(sandbox, "all"))];
  await release(sandbox);
  return figures;
}

// ---------------------------------------------------------------------------------------------
// 4. Interrupt to KeyboardInterrupt: from the host's interrupt() to the result reaching the host.

interface InterruptOutcome {
  elapsedMs: number;
  /** False when the interpreter never raised it and the host killed the process after the grace. */
  honoured: boolean;
}

async function interruptOnce(sandbox: Sandbox, code: string): Promise<InterruptOutcome> {
  const result = sandbox.execute({ code, timeoutMs: LONG_CELL_TIMEOUT_MS, locals: "none" });
  await sleep(INTERRUPT_AFTER_MS);
  const started = performance.now();
  if (!sandbox.interrupt()) throw new Error(`the cell ${JSON.stringify(code)} ended before it was interrupted`);
  const { error, state_preserved } = await result;
  const elapsedMs = performance.now() - started;
  if (error?.type !== "KeyboardInterrupt") throw new Error(`interrupting ${JSON.stringify(code)} gave ${error?.type ?? "success"}`);
  // After a kill the host reports a KeyboardInterrupt too; only a preserved state proves the
  // interpreter itself raised it.
  return { elapsedMs, honoured: state_preserved };
}

/**
 * Interrupts the same cell again and again. An interrupt can be lost (the interpreter goes on
 * until the host kills it), which is exactly what a benchmark should count rather than die of:
 * its time stays in the figures, and a fresh sandbox replaces the killed one.
 */
async function interruptRepeatedly(runtime: SandboxRuntime, key: string, label: string, code: string): Promise<Figure> {
  let sandbox = hold(await runtime.pool.take());
  await waitForFullPool(runtime);
  const elapsedMs: number[] = [];
  let lost = 0;
  for (let run = 0; run < INTERRUPT_RUNS; run++) {
    const outcome = await interruptOnce(sandbox, code);
    elapsedMs.push(outcome.elapsedMs);
    if (outcome.honoured) continue;
    lost++;
    await release(sandbox);
    sandbox = hold(await runtime.pool.take());
    await waitForFullPool(runtime);
  }
  await release(sandbox);
  const note = lost === 0 ? undefined : `${label}: ${lost} of ${INTERRUPT_RUNS} interrupts were lost; the sandbox was killed after the kill grace and its state is gone`;
  return { key, label, unit: "ms", summary: summarize(elapsedMs), target: TARGETS.interrupt_ms, counts: { lost }, note };
}

async function measureInterrupt(runtime: SandboxRuntime): Promise<Figure[]> {
  return [
    await interruptRepeatedly(runtime, "interrupt_busy_ms", "interrupt `while True: pass`", "while True: pass"),
    await interruptRepeatedly(runtime, "interrupt_sleep_ms", "interrupt `time.sleep(100)`", "import time; time.sleep(100)"),
  ];
}

// ---------------------------------------------------------------------------------------------
// 5. Memory of an idle sandbox, over all the processes of its tree.

/** The pid and every descendant of it, from the parent pids in /proc/<pid>/stat. */
async function processTree(root: number): Promise<number[]> {
  const childrenOf = new Map<number, number[]>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // ended while we looked
    }
    // The command name is in parentheses and may itself hold spaces or parentheses: the fields
    // after the last ")" are state then ppid.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const siblings = childrenOf.get(ppid) ?? [];
    siblings.push(Number(entry));
    childrenOf.set(ppid, siblings);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return tree;
}

/** Pss and Rss of one process in bytes; zero when it has gone. */
async function processMemory(pid: number): Promise<{ pss: number; rss: number }> {
  let rollup: string;
  try {
    rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return { pss: 0, rss: 0 };
  }
  const kilobytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
  return { pss: kilobytes("Pss") * 1024, rss: kilobytes("Rss") * 1024 };
}

async function sandboxMemoryMib(sandbox: Sandbox): Promise<{ pss: number; rss: number; processes: number }> {
  if (sandbox.pid === undefined) throw new Error("the sandbox has no process");
  const pids = await processTree(sandbox.pid);
  const each = await Promise.all(pids.map(processMemory));
  const mib = (bytes: number) => bytes / 1024 / 1024;
  return {
    pss: mib(each.reduce((sum, memory) => sum + memory.pss, 0)),
    rss: mib(each.reduce((sum, memory) => sum + memory.rss, 0)),
    processes: pids.length,
  };
}

async function measureMemory(runtime: SandboxRuntime): Promise<{ figures: Figure[]; processes: number }> {
  // All alive at once (beside the pool's idle ones), as on a server: PSS splits the pages they
  // share (mostly the Deno binary) between them, which is what one more sandbox really costs.
  const sandboxes: Sandbox[] = [];
  for (let index = 0; index < MEMORY_SANDBOXES; index++) sandboxes.push(hold(await runtime.start()));
  for (const sandbox of sandboxes) {
    await sandbox.execute({ code: "x = 1", timeoutMs: 10_000, locals: "all" });
    await sandbox.execute({ code: "y = [i * i for i in range(1000)]\nsum(y)", timeoutMs: 10_000, locals: "all" });
  }
  // Lets freed memory go back to the OS and the watchdog's and GC's work finish before reading.
  await sleep(MEMORY_SETTLE_MS);
  const readings = await Promise.all(sandboxes.map(sandboxMemoryMib));
  await Promise.all(sandboxes.map(release));
  const figures: Figure[] = [
    { key: "idle_pss_mib", label: "idle sandbox PSS (all processes)", unit: "MiB", summary: summarize(readings.map((r) => r.pss)), target: TARGETS.idle_pss_mib },
    { key: "idle_rss_mib", label: "idle sandbox RSS (all processes)", unit: "MiB", summary: summarize(readings.map((r) => r.rss)) },
  ];
  return { figures, processes: Math.max(...readings.map((r) => r.processes)) };
}

// ---------------------------------------------------------------------------------------------
// Report.

function decimalsFor(unit: string): number {
  return unit === "µs" ? 0 : 1;
}

function tableRow(figure: Figure): string[] {
  const decimals = decimalsFor(figure.unit);
  const target = figure.target === undefined ? "" : `≤ ${figure.target}`;
  const met = figure.target === undefined ? "" : verdict(figure.summary.median, figure.target) + (figure.note ? " (see note)" : "");
  return [figure.label, figure.unit, formatNumber(figure.summary.median, decimals), formatRange(figure.summary, decimals), String(figure.summary.n), target, met];
}

function printTable(figures: Figure[]): void {
  const columns = [
    { title: "measure" },
    { title: "unit" },
    { title: "median", align: "right" as const },
    { title: "spread (min–max)", align: "right" as const },
    { title: "n", align: "right" as const },
    { title: "target" },
    { title: "met" },
  ];
  console.log(formatTable(columns, figures.map(tableRow)));
  for (const figure of figures) if (figure.note) console.log(`note: ${figure.note}`);
}

function jsonLine(figures: Figure[], extra: Record<string, unknown>): string {
  const entries = figures.map((figure) => {
    const base = { unit: figure.unit, ...roundSummary(figure.summary) };
    const target = figure.target === undefined ? {} : { target: figure.target, met: figure.summary.median <= figure.target };
    return [figure.key, { ...base, ...target, ...figure.counts }];
  });
  return JSON.stringify({ bench: "sandbox", ...extra, ...Object.fromEntries(entries) });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // The defaults, not this shell's environment, so that figures compare from run to run; only the
  // cache is taken from it, to reuse the snapshot already built.
  const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
  const runtime = await startSandboxRuntime({
    cacheDir: config.cacheDir,
    poolSize: POOL_SIZE,
    limits: config.sandbox,
    log: createLogger("warn", (line) => process.stderr.write(line + "\n")),
  });
  // Ctrl-C must not leave sandboxes behind: they are in their own process groups.
  const interrupted = () => void cleanUp(runtime).finally(() => process.exit(130));
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const started = performance.now();
    await waitForFullPool(runtime);
    progress("boot from snapshot");
    const figures = await measureBoot(runtime);
    progress("take from the warm pool");
    figures.push(...(await measurePoolTake(runtime)));
    progress("trivial cell round trip");
    figures.push(...(await measureCells(runtime)));
    progress("interrupt");
    figures.push(...(await measureInterrupt(runtime)));
    progress("idle memory");
    const memory = await measureMemory(runtime);
    figures.push(...memory.figures);
    const seconds = (performance.now() - started) / 1000;
    console.log(`\nwasm-repl sandbox benchmark: pool size ${POOL_SIZE}, ${memory.processes} process(es) per sandbox, ${seconds.toFixed(0)} s\n`);
    printTable(figures);
    console.log("");
    console.log(jsonLine(figures, { pool_size: POOL_SIZE, processes_per_sandbox: memory.processes, duration_s: Number(seconds.toFixed(1)) }));
  } finally {
    await cleanUp(runtime);
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
