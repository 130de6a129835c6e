// The notebook page's benchmark, in Debian's chromium (playwright-core) against a server as
// `npm start` runs it (a child process, development mode: the page signs itself in):
// - page load: from the navigation's start to the notebook ready to type into (the shell, the
//   bundle, the development token, the first editor), measured by the page's own clock; cold in a
//   fresh browser profile (nothing cached), warm on a reload (the assets cached);
// - a cell's round trip in the browser: from clicking Run to its result in the page's DOM; cold is
//   a new notebook's first cell (the session opened, its WebSocket attached, an interpreter taken),
//   warm the same cell run again and again.
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { launchBrowser } from "../test/helpers/browser.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, summarize, verdict, type Summary } from "./stats.ts";
import { launchServer } from "./wasm-repl.ts";

const LOAD_RUNS = 12;
const COLD_CELL_RUNS = 8;
const WARM_CELL_RUNS = 200;
/** Milliseconds; the bar for a page load on loopback. */
const LOAD_TARGET_MS = 1000;

/** When the page said it was ready (performance.mark in page/src/main.ts), in ms since its navigation began. */
const READY_AT = "performance.getEntriesByName('wasm-repl:ready')[0].startTime";

/** Clicks the first cell's Run and resolves with the ms until its result is in the DOM. */
const RUN_FIRST_CELL = `(async () => {
  const cell = document.querySelector("#cells > .cell");
  const started = performance.now();
  const finished = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (cell.dataset.status === "done" || cell.dataset.status === "failed") {
        observer.disconnect();
        resolve({ ms: performance.now() - started, status: cell.dataset.status });
      }
    });
    observer.observe(cell, { attributes: true, attributeFilter: ["data-status"] });
  });
  cell.querySelector("button.run").click();
  return finished;
})()`;

interface Row {
  label: string;
  summary: Summary;
  target?: number;
}

function progress(text: string): void {
  process.stderr.write(`bench page: ${text}\n`);
}

async function ready(page: Page): Promise<number> {
  await page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 60_000 });
  return (await page.evaluate(READY_AT)) as number;
}

async function runCell(page: Page): Promise<number> {
  const { ms, status } = (await page.evaluate(RUN_FIRST_CELL)) as { ms: number; status: string };
  if (status !== "done") throw new Error(`the bench cell ended ${status}`);
  return ms;
}

/** Waits for the server's warm pool to have an interpreter again, so each cold cell finds one as a new user would. */
async function settled(url: string): Promise<void> {
  let reason = "";
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const answer = await fetch(`${url}/ready`);
    reason = await answer.text();
    if (answer.ok) return;
  }
  throw new Error(`the server's pool did not refill within 60 s: ${reason}`);
}

/** `url`: the server's, http://127.0.0.1:PORT. */
async function measure(browser: Browser, url: string): Promise<Row[]> {
  const coldLoads: number[] = [];
  const warmLoads: number[] = [];
  const coldCells: number[] = [];
  let warmCells: number[] = [];
  for (let run = 0; run < LOAD_RUNS; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    coldLoads.push(await ready(page));
    await page.reload();
    warmLoads.push(await ready(page));
    if (run < COLD_CELL_RUNS) {
      await settled(url);
      await page.locator("#cells .cm-content").first().click();
      await page.keyboard.insertText("x = 1 + 1");
      coldCells.push(await runCell(page));
      if (run === 0) {
        progress(`${WARM_CELL_RUNS} warm cells`);
        for (let cell = 0; cell < WARM_CELL_RUNS; cell++) warmCells.push(await runCell(page));
      }
      // The next run's user is a new one: this session ends, and its interpreter with it.
      await page.locator("#sessions li").filter({ hasText: "this notebook" }).getByRole("button", { name: /^End session/ }).click();
    }
    await context.close();
  }
  // The first warm cells still tier the interpreter up (as in bench/doors.ts): the later half is the steady state.
  warmCells = warmCells.slice(WARM_CELL_RUNS / 2);
  return [
    { label: "page load, cold (fresh profile), ms", summary: summarize(coldLoads), target: LOAD_TARGET_MS },
    { label: "page load, warm (reload), ms", summary: summarize(warmLoads), target: LOAD_TARGET_MS },
    { label: "first cell round trip, cold (new session), ms", summary: summarize(coldCells) },
    { label: `cell round trip, warm (cells ${WARM_CELL_RUNS / 2 + 1}-${WARM_CELL_RUNS}), ms`, summary: summarize(warmCells) },
  ];
}

export async function runPageBench(): Promise<void> {
  progress("starting a development server and chromium");
  // JWT_SECRET empty: development mode, as `npm start` runs, so the page signs itself in.
  const { server, url } = await launchServer({ JWT_SECRET: "", POOL_SIZE: "2", FRAME_RATE: "0" }, { name: "wasm-repl-page" });
  const browser = await launchBrowser();
  const version = browser.version();
  let rows: Row[];
  try {
    rows = await measure(browser, url);
  } finally {
    await browser.close();
    await server.stop();
  }
  const right = "right" as const;
  console.log(`\nthe notebook page in chromium ${version} on loopback: load = navigation start to the notebook ready (the page's clock); round trip = Run clicked to the result in the DOM`);
  console.log(
    formatTable(
      [{ title: "measure" }, { title: "median", align: right }, { title: "spread", align: right }, { title: "n", align: right }, { title: "target" }, { title: "met" }],
      rows.map(({ label, summary, target }) => [label, formatNumber(summary.median), formatRange(summary), String(summary.n), target ? `≤ ${target}` : "", target ? verdict(summary.median, target) : ""]),
    ),
  );
  const figure = (row: Row) => ({ median: Number(row.summary.median.toFixed(1)), min: Number(row.summary.min.toFixed(1)), max: Number(row.summary.max.toFixed(1)), n: row.summary.n });
  const [coldLoad, warmLoad, coldCell, warmCell] = rows.map(figure);
  console.log(JSON.stringify({ bench: "page", load_cold_ms: coldLoad, load_warm_ms: warmLoad, first_cell_cold_ms: coldCell, cell_warm_ms: warmCell, load_target_ms: LOAD_TARGET_MS }));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runPageBench, 10 * 60_000, progress);
