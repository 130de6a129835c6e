// The flood benchmark: another session's trivial cell round trip while one
// client floods the server: with pings, with large frames it must parse (60 MiB pings, refused
// after parsing), and with large add_context payloads it must parse and pass on. The other
// session runs a paced stream, a cell every PACE_MS, each timed from when it was due to be sent:
// a cell sent late because the one before it was stuck counts the wait (no coordinated omission),
// so a freeze counts for every cell it delayed. Five servers in one run: the rate limits
// (FRAME_RATE, BYTE_RATE_MB: their defaults) with large frames parsed by workers, the same with
// ws unmasking in plain JS (as without the optional `bufferutil`), the same with every frame
// parsed on the serving thread (PARSE_OFF_THREAD_KB=0, as before), and no rate limits with and
// without the workers. The flooder is a child process (bench/flooder.ts) at the lowest priority
// that reconnects whenever it is closed. `npx tsx bench/flood.ts NAME...` runs only the servers so named. Part of `npm run bench`; alone: `npx tsx bench/flood.ts`.
import { fork, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatTable, percentile } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const PHASE_MS = 6000;
const WARMUP_CELLS = 300;
/** A cell is due every PACE_MS. */
const PACE_MS = 5;
const TARGET_P99_MS = 50;
const WINDOW_MS = 1000;
const FLOODS = ["none", "ping", "large", "context"] as const;
type Flood = (typeof FLOODS)[number];
const NO_LIMITS = { FRAME_RATE: "0", BYTE_RATE_MB: "0" };
const ON_THREAD = { PARSE_OFF_THREAD_KB: "0" };
/** ws unmasks in plain JS without the optional `bufferutil` (~300 ms a 60 MiB frame, ~18 ms with it). */
const JS_UNMASK = { WS_NO_BUFFER_UTIL: "1" };
const CONFIGURATIONS: { name: string; settings: Record<string, string> }[] = [
  { name: "limits, workers", settings: {} },
  { name: "limits, workers, JS unmask", settings: JS_UNMASK },
  { name: "limits, on thread", settings: ON_THREAD },
  { name: "no limits, workers", settings: NO_LIMITS },
  { name: "no limits, on thread", settings: { ...NO_LIMITS, ...ON_THREAD } },
];

function progress(text: string): void {
  process.stderr.write(`bench flood: ${text}\n`);
}

interface Row {
  configuration: string;
  flood: Flood;
  cells: number;
  p50: number;
  p99: number;
  max: number;
  /** Of the 1-s windows (by when their cells were due), those with a cell that waited over TARGET_P99_MS. */
  slowWindows: number;
  windows: number;
}

/**
 * Trivial cells for `ms`, one due every PACE_MS: each is sent when it is due or when the one
 * before it answers, whichever is later, and timed from when it was due. At `ms` it stops; the
 * cells due by then but never sent count what they have waited so far (a lower bound).
 */
async function pacedRoundTrips(session: ReplSession, ms: number): Promise<{ due: number; latency: number }[]> {
  const cells: { due: number; latency: number }[] = [];
  const start = performance.now();
  let k = 0;
  for (; k * PACE_MS < ms && performance.now() - start < ms; k++) {
    const due = start + k * PACE_MS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await session.execute("1", { locals: "none" });
    cells.push({ due: due - start, latency: performance.now() - due });
  }
  const end = performance.now();
  for (; k * PACE_MS < ms; k++) cells.push({ due: k * PACE_MS, latency: end - (start + k * PACE_MS) });
  return cells;
}

function summarizeCells(cells: { due: number; latency: number }[]): Pick<Row, "cells" | "p50" | "p99" | "max" | "slowWindows" | "windows"> {
  const latencies = cells.map((cell) => cell.latency);
  const windows = new Map<number, number>();
  for (const { due, latency } of cells) {
    const window = Math.floor(due / WINDOW_MS);
    windows.set(window, Math.max(windows.get(window) ?? 0, latency));
  }
  const slowWindows = [...windows.values()].filter((worst) => worst > TARGET_P99_MS).length;
  return { cells: cells.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies), slowWindows, windows: windows.size };
}

/**
 * At the lowest priority: an attacker's CPU is not the server's, and on a small machine a flooder
 * at full speed would otherwise take a core from the server it floods.
 */
function startFlooder(url: string, token: string, kind: Exclude<Flood, "none">): ChildProcess {
  const flooder = fork(fileURLToPath(new URL("./flooder.ts", import.meta.url)), [url, token, kind], { execArgv: ["--import", "tsx"], stdio: "ignore" });
  setPriority(flooder.pid!, 19);
  return flooder;
}

async function stopFlooder(flooder: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => flooder.once("exit", resolve));
  flooder.kill();
  await exited;
}

async function measure(configuration: (typeof CONFIGURATIONS)[number]): Promise<Row[]> {
  progress(`${configuration.name}: starting the server`);
  const { server, url, secret } = await launchServer({ POOL_SIZE: "2", ...configuration.settings });
  const rows: Row[] = [];
  try {
    const victim = await ReplSession.open(url, { token: await benchToken(secret, "victim"), reconnect: false });
    for (let i = 0; i < WARMUP_CELLS; i++) await victim.execute("1", { locals: "none" });
    const floodToken = await benchToken(secret, "flooder");
    for (const flood of FLOODS) {
      progress(`${configuration.name}: ${flood} flood`);
      const flooder = flood === "none" ? null : startFlooder(url, floodToken, flood);
      try {
        rows.push({ configuration: configuration.name, flood, ...summarizeCells(await pacedRoundTrips(victim, PHASE_MS)) });
      } finally {
        if (flooder) await stopFlooder(flooder);
      }
    }
    await victim.close();
  } finally {
    await server.stop();
  }
  return rows;
}

export async function runFloodBench(): Promise<void> {
  const rows: Row[] = [];
  // `npx tsx bench/flood.ts "limits, workers"`: only the configurations so named.
  const only = process.argv.slice(2).filter((name) => CONFIGURATIONS.some((configuration) => configuration.name === name));
  for (const configuration of CONFIGURATIONS) if (only.length === 0 || only.includes(configuration.name)) rows.push(...(await measure(configuration)));
  console.log(
    `\nflood benchmark: another session's trivial cell (locals "none"), one due every ${PACE_MS} ms and timed from when it was due, ${PHASE_MS / 1000} s per row, while one client floods (and reconnects when closed); slow windows: 1-s windows with a cell over ${TARGET_P99_MS} ms`,
  );
  const right = "right" as const;
  console.log(
    formatTable(
      [
        { title: "server" },
        { title: "flood" },
        { title: "cells", align: right },
        { title: "p50 ms", align: right },
        { title: "p99 ms", align: right },
        { title: "max ms", align: right },
        { title: "slow windows", align: right },
        { title: "p99 target" },
      ],
      rows.map((row) => [
        row.configuration,
        row.flood,
        String(row.cells),
        formatNumber(row.p50, 2),
        formatNumber(row.p99, 2),
        formatNumber(row.max, 1),
        `${row.slowWindows}/${row.windows}`,
        `≤ ${TARGET_P99_MS}${row.p99 <= TARGET_P99_MS ? " ok" : " missed"}`,
      ]),
    ),
  );
  const round = (value: number) => Number(value.toFixed(2));
  console.log(JSON.stringify({ bench: "flood", rows: rows.map((row) => ({ ...row, p50: round(row.p50), p99: round(row.p99), max: round(row.max) })) }));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runFloodBench, 10 * 60_000, progress);
