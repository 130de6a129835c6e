// The hibernation benchmark: what a session pays to go to sleep and to wake, what a
// sleeping session costs in the store, and how many open sessions one server holds when all but
// four sleep. Part of `npm run bench` (after the end-to-end part); alone: `npx tsx bench/hibernation.ts`.
// Prints a table (median, spread, target) and one JSON line. Missed targets are reported, not
// failures. BENCH_HIBERNATE_SESSIONS and BENCH_HIBERNATE_SECONDS bound the capacity run.
import { pathToFileURL } from "node:url";
import { createLogger } from "../server/log.ts";
import { measureCapacity, TARGET_SESSIONS, TARGET_TOTAL_PSS_MIB, type CapacityPlan } from "./hibernation-capacity.ts";
import { measureHibernateWake } from "./hibernation-cycle.ts";
import { loadFields, loadLine, underLoad } from "./load.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, roundSummary, roundValues, verdict } from "./stats.ts";
import type { Figure } from "./workload.ts";

/** Targets from the issue; whether one is an upper or a lower bound follows the figure's `better`. */
const TARGETS: Record<string, number> = {
  stored_small_kib: 1024,
  wake_small_ms: 400,
  wake_big_ms: 1500,
  capacity_sessions: TARGET_SESSIONS,
  capacity_total_pss_at_1000_mib: TARGET_TOTAL_PSS_MIB,
};

// Opening a session costs a sandbox boot and a hibernation (about a second of CPU on two cores):
// a thousand take far longer than a bench should, so the run is bounded and the rest extrapolated.
const DEFAULT_BUDGET_S = 150;
const MIN_BUDGET_S = 30;
/** What follows the opening: waiting for the last hibernations, readings, wake checks, the stop. */
const AFTER_OPENING_S = 50;
/** Alone, the run stops itself (servers included) after the capacity budget and this much more. */
const STANDALONE_MARGIN_MS = 10 * 60_000;

export interface HibernationBenchOptions {
  /** performance.now() by which the whole part should be done (`npm run bench` has a watchdog). */
  finishBy?: number;
}

function progress(text: string): void {
  process.stderr.write(`bench hibernation: ${text}\n`);
}

function envInteger(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
  return value;
}

interface CapacityLimits {
  sessions: number;
  budgetS: number;
}

/** Read before anything runs, so that a bad value fails at once rather than after the first part. */
function capacityLimits(): CapacityLimits {
  return {
    // Up to MAX_SESSIONS (1100) of the server under test.
    sessions: envInteger("BENCH_HIBERNATE_SESSIONS", TARGET_SESSIONS, 5, 1100),
    budgetS: envInteger("BENCH_HIBERNATE_SECONDS", DEFAULT_BUDGET_S, 10, 3600),
  };
}

function capacityPlan(limits: CapacityLimits, finishBy: number | undefined): CapacityPlan {
  const leftS = finishBy === undefined ? Infinity : (finishBy - performance.now()) / 1000 - AFTER_OPENING_S;
  return { sessions: limits.sessions, budgetMs: Math.max(MIN_BUDGET_S, Math.min(limits.budgetS, leftS)) * 1000 };
}

// ---------------------------------------------------------------------------------------------
// Report.

function targetText(figure: Figure): string {
  const target = TARGETS[figure.key];
  return target === undefined ? "" : `${figure.better === "lower" ? "≤" : "≥"} ${target}`;
}

function metText(figure: Figure): string {
  const target = TARGETS[figure.key];
  if (target === undefined) return "";
  const met = verdict(figure.summary.median, target, figure.better);
  // The bench stopped opening, not the server: the memory rows below answer for the full count.
  if (met === "MISSED" && figure.key === "capacity_sessions") {
    return figure.extra?.bound_by_time_budget ? "not reached: bench time budget" : "not tried: BENCH_HIBERNATE_SESSIONS";
  }
  return figure.label.includes("extrapolated") ? `${met} (extrapolated)` : met;
}

function printTable(figures: Figure[]): void {
  const right = "right" as const;
  const columns = [{ title: "measure" }, { title: "unit" }, { title: "median", align: right }, { title: "spread", align: right }, { title: "n", align: right }, { title: "target" }, { title: "met" }];
  const rows = figures.map((figure) => [
    figure.label,
    figure.unit,
    formatNumber(figure.summary.median, figure.decimals),
    formatRange(figure.summary, figure.decimals),
    String(figure.summary.n),
    targetText(figure),
    metText(figure),
  ]);
  console.log(formatTable(columns, rows));
}

/** Where the time of each hibernation and wake went, from the figures' medians. */
function breakdownNotes(figures: Figure[]): string[] {
  const text = (extra: Record<string, number>) =>
    Object.entries(extra)
      .map(([name, value]) => `${name.replace(/_/g, " ")} ${formatNumber(value)}`)
      .join(", ");
  return figures.filter((figure) => /^(hibernate|wake)_(small|big)_ms$/.test(figure.key) && figure.extra).map((figure) => `${figure.key}: medians: ${text(figure.extra!)}`);
}

function jsonLine(figures: Figure[], header: Record<string, unknown>): string {
  const entries = figures.map((figure) => {
    const target = TARGETS[figure.key];
    const extra = roundValues(figure.extra, 3);
    const met = target === undefined ? {} : { target, met: verdict(figure.summary.median, target, figure.better) === "ok" };
    return [figure.key, { unit: figure.unit, ...roundSummary(figure.summary), ...met, ...extra }];
  });
  return JSON.stringify({ bench: "hibernation", ...header, ...Object.fromEntries(entries) });
}

// ---------------------------------------------------------------------------------------------

export async function runHibernationBench(options: HibernationBenchOptions = {}): Promise<void> {
  const limits = capacityLimits();
  const log = createLogger("warn", (line) => process.stderr.write(line + "\n"));
  const { result, load } = await underLoad(async () => {
    progress("hibernating and waking sessions in sandboxes of this process");
    const cycle = await measureHibernateWake(log, progress);
    return { cycle, capacity: await measureCapacity(capacityPlan(limits, options.finishBy), progress) };
  });
  const { cycle, capacity } = result;
  const figures = [...cycle.figures, ...capacity.figures];
  console.log(`\nwasm-repl hibernation benchmark: SESSION_MEMORY_MB 512; snapshot store for hibernate/wake: ${cycle.store}`);
  console.log(`${loadLine(load)}\n`);
  printTable(figures);
  console.log("");
  console.log("spread: min–max over the runs (n): each hibernate/wake run on a fresh session; capacity: one server, n readings of its memory 1 s apart.");
  console.log("hibernate: Interpreter.hibernate with the server's Hibernator: snapshot, delta against the base + gzip + store put, sandbox process exited.");
  for (const note of [...breakdownNotes(figures), ...cycle.notes, ...capacity.notes]) console.log(note);
  console.log("");
  console.log(jsonLine(figures, { store: cycle.store, ...loadFields(load) }));
}

// ---------------------------------------------------------------------------------------------
// Alone (not through bench/run.ts, which stops the servers itself on Ctrl-C and on its watchdog).

function runAlone(): void {
  let watchdogMs: number;
  try {
    watchdogMs = capacityLimits().budgetS * 1000 + STANDALONE_MARGIN_MS;
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  // The in-process sandboxes are killed by an exit hook (see hibernation-cycle.ts).
  runBench(runHibernationBench, watchdogMs, progress);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runAlone();
