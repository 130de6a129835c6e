// `npm run bench`: the end-to-end benchmark. Starts a real wasm-repl server, drives it over
// WebSockets on loopback with the SDK, and runs the same workload against jupyter-server +
// ipykernel when they are installed. Prints a table (median, spread, target, ratio to the peer)
// and one JSON line for tools. Missed targets are reported, not failures: the exit code is 0
// whenever the bench completes.
//
// `--compare REF` runs only the wasm-repl workload, on this tree's server and then on the server
// of commit REF checked out aside, and prints the two side by side (bench/compare.ts): no peer,
// no other parts. `--quick`, with --compare only, shrinks the workload to a smoke check that the
// comparison runs end to end, about half a minute in all; its figures are too few to read.
import { parseArgs } from "node:util";
import { runComparison } from "./compare.ts";
import type { Driver, Plan } from "./driver.ts";
import { findJupyter, INSTALL_HINT, startJupyter, type JupyterInstall } from "./jupyter.ts";
import { loadFields, loadLine, underLoad, type Load } from "./load.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, roundSummary, roundValues, verdict } from "./stats.ts";
import { startWasmRepl } from "./wasm-repl.ts";
import { runWorkload, type Figure } from "./workload.ts";

// Each open waits for the pool to refill (see settle), so every open finds a warm sandbox even
// with the production default of two; a larger pool would only add idle processes.
const POOL_SIZE = 2;

// Counts chosen so that the whole bench takes about two minutes on a two-core machine.
const WASM_REPL_PLAN: Plan = {
  sessions: 10,
  cellWarmup: 200,
  cellBatches: 3,
  cellsPerBatch: 2000,
  stdoutRuns: 15,
  throughputFreshSeconds: 3,
  // A fresh sandbox's V8 tiers Pyodide's WebAssembly up over its first several hundred cells
  // (measured: background compile threads then use more CPU than the cells themselves).
  throughputWarmupCellsPerSession: 1500,
  throughputRuns: 3,
  throughputSeconds: 3,
};
const QUICK_PLAN: Plan = {
  sessions: 2,
  cellWarmup: 10,
  cellBatches: 2,
  cellsPerBatch: 50,
  stdoutRuns: 2,
  throughputFreshSeconds: 0.5,
  throughputWarmupCellsPerSession: 50,
  throughputRuns: 2,
  throughputSeconds: 0.5,
};
// The same workload with fewer cells: a Jupyter round trip is tens of milliseconds, and CPython
// has no JIT to warm up.
const JUPYTER_PLAN: Plan = { ...WASM_REPL_PLAN, cellWarmup: 20, cellsPerBatch: 100, stdoutRuns: 10, throughputWarmupCellsPerSession: 20 };

/** wasm-repl's targets; whether a target is an upper or a lower bound follows the figure's `better`. */
const TARGETS: Record<string, number> = {
  open_ms: 25,
  cell_none_p50_ms: 2,
  cell_none_p99_ms: 10,
  cell_all_p50_ms: 2,
  cell_all_p99_ms: 10,
  first_stdout_ms: 15,
  throughput_cells_per_s: 1500,
};

/** The whole bench stops itself after this long, servers included, whatever hangs. */
const WATCHDOG_MS = 30 * 60_000;

const SETUP = `server as a child process (node --import tsx server/main.ts), POOL_SIZE ${POOL_SIZE}, LOG_LEVEL info, over loopback WebSockets`;

function progress(text: string): void {
  process.stderr.write(`bench ${text}\n`);
}

/** Starts a server, runs the workload on it, stops it (also when the workload failed). */
async function measure(start: () => Promise<Driver>, plan: Plan, name: string): Promise<Figure[]> {
  progress(`${name}: starting the server`);
  const driver = await start();
  try {
    return await runWorkload(driver, plan, (step) => progress(`${name}: ${step}`));
  } finally {
    progress(`${name}: stopping the server`);
    await driver.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

type PeerOutcome = { install: JupyterInstall; figures: Figure[] } | { skipped: string };

/** How many times better wasm-repl is: jupyter ÷ wasm-repl for times and memory, the inverse for throughput. */
function advantage(ours: Figure, peer: Figure | undefined): number | undefined {
  if (!peer) return undefined;
  return ours.better === "lower" ? peer.summary.median / ours.summary.median : ours.summary.median / peer.summary.median;
}

function targetText(figure: Figure): string {
  const target = TARGETS[figure.key];
  return target === undefined ? "" : `${figure.better === "lower" ? "≤" : "≥"} ${target}`;
}

function metText(figure: Figure): string {
  const target = TARGETS[figure.key];
  return target === undefined ? "" : verdict(figure.summary.median, target, figure.better);
}

function tableRow(ours: Figure, peer: Figure | undefined): string[] {
  const { decimals } = ours;
  const ratio = advantage(ours, peer);
  return [
    ours.label,
    ours.unit,
    formatNumber(ours.summary.median, decimals),
    formatRange(ours.summary, decimals),
    String(ours.summary.n),
    targetText(ours),
    metText(ours),
    peer ? formatNumber(peer.summary.median, decimals) : "",
    peer ? formatRange(peer.summary, decimals) : "",
    peer ? String(peer.summary.n) : "",
    ratio === undefined ? "" : `${formatNumber(ratio, ratio < 10 ? 2 : 1)}×`,
  ];
}

function printTable(figures: Figure[], peer: Figure[]): void {
  const right = "right" as const;
  const columns = [
    { title: "measure" },
    { title: "unit" },
    { title: "wasm-repl", align: right },
    { title: "spread", align: right },
    { title: "n", align: right },
    { title: "target" },
    { title: "met" },
    { title: "jupyter", align: right },
    { title: "spread", align: right },
    { title: "n", align: right },
    { title: "advantage", align: right },
  ];
  const peerOf = (figure: Figure) => peer.find((candidate) => candidate.key === figure.key);
  console.log(formatTable(columns, figures.map((figure) => tableRow(figure, peerOf(figure)))));
}

function memoryNote(figures: Figure[], name: string): string | null {
  const memory = figures.find((figure) => figure.key === "idle_session_pss_mib");
  if (!memory?.extra) return null;
  const { mean, sum, other_children: others, other_children_pss_mib: othersPss } = memory.extra;
  const rest = others ? `; besides them ${others} idle process(es) of the server's (warm pool), ${formatNumber(othersPss!)} MiB, not counted` : "";
  return `${name}: ${memory.summary.n} idle sessions, ${formatNumber(sum!)} MiB PSS in all, ${formatNumber(mean!)} MiB each on average${rest}`;
}

function cpuNote(figures: Figure[], name: string): string | null {
  const cpu = (key: string) => {
    const extra = figures.find((figure) => figure.key === key)?.extra;
    if (!extra) return "";
    const ms = (value: number | undefined) => formatNumber(value ?? 0, 2);
    return `bench ${ms(extra.cpu_ms_per_cell_client)}, server ${ms(extra.cpu_ms_per_cell_server)}, interpreters ${ms(extra.cpu_ms_per_cell_interpreters)}`;
  };
  const warmup = figures.find((figure) => figure.key === "throughput_cells_per_s")?.extra?.warmup_s;
  return `${name}: CPU ms per cell in the parallel runs: fresh: ${cpu("throughput_fresh_cells_per_s")}; warm: ${cpu("throughput_cells_per_s")} (warm-up took ${formatNumber(warmup ?? 0)} s)`;
}

function printNotes(figures: Figure[], outcome: PeerOutcome, plans: { ours: Plan; peer: Plan }): void {
  const { ours, peer } = plans;
  console.log("");
  console.log(`spread: min–max over the runs (n); for cell round trips, of the p50 or p99 of each batch (wasm-repl: ${ours.cellsPerBatch} cells a batch${"figures" in outcome ? `, jupyter: ${peer.cellsPerBatch}` : ""}).`);
  const notes = [memoryNote(figures, "wasm-repl"), cpuNote(figures, "wasm-repl")];
  if ("figures" in outcome) notes.push(memoryNote(outcome.figures, "jupyter"), cpuNote(outcome.figures, "jupyter"));
  for (const note of notes) if (note) console.log(note);
  if ("skipped" in outcome) {
    console.log(`jupyter: ${outcome.skipped}`);
    return;
  }
  console.log("open: wasm-repl answers before it takes a sandbox (that happens at the first cell), Jupyter once its kernel answers kernel_info: compare \"open + first cell\" for a session that can run code.");
  console.log('advantage: how many times wasm-repl is better (jupyter ÷ wasm-repl for times and memory, wasm-repl ÷ jupyter for cells/s); below 1, Jupyter is better.');
  console.log('jupyter has no locals option and returns no variables: its cells are compared with wasm-repl\'s default, locals "all".');
}

function jsonLine(figures: Figure[], outcome: PeerOutcome, header: Record<string, unknown>): string {
  const peer = "figures" in outcome ? outcome.figures : [];
  const entries = figures.map((figure) => {
    const target = TARGETS[figure.key];
    const other = peer.find((candidate) => candidate.key === figure.key);
    const ratio = advantage(figure, other);
    return [
      figure.key,
      {
        unit: figure.unit,
        ...roundSummary(figure.summary),
        ...(target !== undefined && { target, met: verdict(figure.summary.median, target, figure.better) === "ok" }),
        ...roundValues(figure.extra),
        ...(other && { jupyter: { ...roundSummary(other.summary), ...roundValues(other.extra) } }),
        ...(ratio !== undefined && { advantage: Number(ratio.toFixed(2)) }),
      },
    ];
  });
  const jupyter = "skipped" in outcome ? { skipped: outcome.skipped } : { versions: outcome.install.versions };
  return JSON.stringify({ bench: "server", ...header, jupyter, ...Object.fromEntries(entries) });
}

// ---------------------------------------------------------------------------------------------

async function measurePeer(): Promise<PeerOutcome> {
  const install = await findJupyter();
  if (!install) return { skipped: `not installed, so not compared; to compare: ${INSTALL_HINT}` };
  try {
    return { install, figures: await measure(() => startJupyter(install), JUPYTER_PLAN, "jupyter") };
  } catch (error) {
    process.exitCode = 1;
    return { skipped: `its run failed: ${(error as Error).message}` };
  }
}

function printReport(figures: Figure[], outcome: PeerOutcome, load: Load): void {
  console.log(`\nwasm-repl end-to-end benchmark: ${SETUP}`);
  console.log(loadLine(load));
  console.log("figures" in outcome ? `peer: ${outcome.install.versions} (${outcome.install.python})` : "peer: jupyter not measured (see below)");
  console.log("");
  printTable(figures, "figures" in outcome ? outcome.figures : []);
  printNotes(figures, outcome, { ours: WASM_REPL_PLAN, peer: JUPYTER_PLAN });
  console.log("");
  const header = {
    server: "child process",
    pool_size: POOL_SIZE,
    ...loadFields(load),
  };
  console.log(jsonLine(figures, outcome, header));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { compare: { type: "string" }, quick: { type: "boolean" } } });
  if (values.compare !== undefined) {
    const plan = values.quick ? QUICK_PLAN : WASM_REPL_PLAN;
    return runComparison({ ref: values.compare, setup: SETUP, measureTree: (root, name) => measure(() => startWasmRepl({ poolSize: POOL_SIZE, root }), plan, name) });
  }
  if (values.quick) throw new Error("--quick goes with --compare only: the full bench reads its figures against targets, and its other parts have sizes of their own");
  const started = performance.now();
  const { result, load } = await underLoad(async () => {
    const figures = await measure(() => startWasmRepl({ poolSize: POOL_SIZE }), WASM_REPL_PLAN, "wasm-repl");
    return { figures, outcome: await measurePeer() };
  });
  printReport(result.figures, result.outcome, load);
  await (await import("./hibernation.ts")).runHibernationBench({ finishBy: started + 5 * 60_000 }); // within 5 minutes in all
  await (await import("./context.ts")).runContextBench();
  await (await import("./forwarding.ts")).runForwardingBench();
  await (await import("./flood.ts")).runFloodBench(); // one client floods, another's cells
  await (await import("./drain.ts")).runDrainBench(); // SIGTERM to exit with sessions saved
  await (await import("./fresh.ts")).runFreshBench(); // fresh interpreters, beside the commit before
  await (await import("./doors.ts")).runDoorsBench(); // a trivial cell through each door, beside jupyter-server + ipykernel
  await (await import("./python-client.ts")).runPythonClientBench(); // the Python client's round trip beside the TypeScript SDK's
  await (await import("./packages.ts")).runPackagesBench(); // PRELOAD_PACKAGES' cost and savings, a first import on demand
  await (await import("./page.ts")).runPageBench(); // the notebook page in chromium: load, and a cell's round trip
}

runBench(main, WATCHDOG_MS, progress);
