// The flood benchmark (issue 12, item 6): another session's trivial cell round trip while one
// client floods the server, with pings and with large frames, once with the rate limits
// (FRAME_RATE, BYTE_RATE_MB: their defaults) and once without them, so before and after are in
// one run. The flooder is a child process (bench/flooder.ts) that reconnects whenever it is closed.
// Part of `npm run bench`; alone: `npx tsx bench/flood.ts`.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatTable, percentile } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const PHASE_MS = 5000;
const WARMUP_CELLS = 300;
const TARGET_P99_MS = 50;
const FLOODS = ["none", "ping", "large"] as const;
const CONFIGURATIONS: { name: string; settings: Record<string, string> }[] = [
  { name: "limits", settings: {} },
  { name: "no limits", settings: { FRAME_RATE: "0", BYTE_RATE_MB: "0" } },
];

function progress(text: string): void {
  process.stderr.write(`bench flood: ${text}\n`);
}

interface Row {
  configuration: string;
  flood: (typeof FLOODS)[number];
  cells: number;
  p50: number;
  p99: number;
  max: number;
}

/** Trivial cells one after another for `ms`: their round trips. */
async function roundTrips(session: ReplSession, ms: number): Promise<number[]> {
  const times: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const started = performance.now();
    await session.execute("1", { locals: "none" });
    times.push(performance.now() - started);
  }
  return times;
}

function startFlooder(url: string, token: string, kind: "ping" | "large"): ChildProcess {
  return fork(fileURLToPath(new URL("./flooder.ts", import.meta.url)), [url, token, kind], { execArgv: ["--import", "tsx"], stdio: "ignore" });
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
        const times = await roundTrips(victim, PHASE_MS);
        rows.push({ configuration: configuration.name, flood, cells: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) });
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
  for (const configuration of CONFIGURATIONS) rows.push(...(await measure(configuration)));
  console.log(`\nflood benchmark: another session's trivial cell (locals "none") round trip, ${PHASE_MS / 1000} s per row, while one client floods (and reconnects when closed)`);
  const right = "right" as const;
  console.log(
    formatTable(
      [{ title: "server" }, { title: "flood" }, { title: "cells", align: right }, { title: "p50 ms", align: right }, { title: "p99 ms", align: right }, { title: "max ms", align: right }, { title: "p99 target" }],
      rows.map((row) => [row.configuration, row.flood, String(row.cells), formatNumber(row.p50, 2), formatNumber(row.p99, 2), formatNumber(row.max, 1), `≤ ${TARGET_P99_MS}${row.p99 <= TARGET_P99_MS ? " ok" : " missed"}`]),
    ),
  );
  const round = (value: number) => Number(value.toFixed(2));
  console.log(JSON.stringify({ bench: "flood", rows: rows.map((row) => ({ ...row, p50: round(row.p50), p99: round(row.p99), max: round(row.max) })) }));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runFloodBench, 5 * 60_000, progress);
