// The Python client's benchmark: a trivial cell's round trip through the Python client
// (client/python: its AsyncSession, and the blocking Session on its own thread) beside the
// TypeScript SDK's, on the same server, one session each, cells sent one after another. The first
// cell (which takes the session's interpreter) and the cold cells after it (V8 still tiering the
// interpreter up) are reported apart from the warm ones. Debian's Python (/usr/bin/python3) runs
// the Python side (bench/python_client.py), which prints its times as JSON.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatTable, percentile, roundValues, summarize } from "./stats.ts";
import { benchToken, launchServer, REPO_ROOT } from "./wasm-repl.ts";

const PYTHON = "/usr/bin/python3";
const COLD_CELLS = 100;
const BATCHES = 3;
const CELLS_PER_BATCH = 100;
const CELL = "x = x + 1";
const POOL_SIZE = 2;

/** A client's times in ms, as bench/python_client.py prints them. */
interface Times {
  open: number;
  first: number;
  cold: number[];
  warm: number[][];
}

/**
 * Until the server's warm pool is full again (its metric says POOL_SIZE interpreters wait), a
 * minute at most: each client's first cell then finds the same pool.
 */
async function waitForPool(url: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const metrics = await fetch(`${url}/metrics`).then((response) => response.text(), () => "");
    if (Number(/^wasm_repl_pool_available_sandboxes (\d+)/m.exec(metrics)?.[1] ?? 0) >= POOL_SIZE) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function typescriptTimes(url: string, token: string): Promise<Times> {
  await waitForPool(url);
  const cell = async (code: string) => {
    const started = performance.now();
    const result = await session.execute(code, { locals: "none" });
    if (!result.success) throw new Error(`cell failed: ${result.error?.type}: ${result.error?.message}`);
    return performance.now() - started;
  };
  const cells = async (count: number) => {
    const times: number[] = [];
    for (let index = 0; index < count; index++) times.push(await cell(CELL));
    return times;
  };
  const started = performance.now();
  const session = await ReplSession.open(url, { token, reconnect: false });
  const open = performance.now() - started;
  const first = await cell("x = 0");
  const cold = await cells(COLD_CELLS);
  const warm: number[][] = [];
  for (let batch = 0; batch < BATCHES; batch++) warm.push(await cells(CELLS_PER_BATCH));
  await session.close();
  return { open, first, cold, warm };
}

/** Each Python client with a user of its own, as the TypeScript one: a user's first session takes an interpreter process of its own. */
function pythonTimes(url: string, asyncToken: string, blockingToken: string): Promise<Record<"async" | "blocking", Times>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(REPO_ROOT, "bench/python_client.py"), String(COLD_CELLS), String(BATCHES), String(CELLS_PER_BATCH), String(POOL_SIZE)], {
      env: { ...process.env, WASM_REPL_URL: url, WASM_REPL_BENCH_TOKENS: `${asyncToken} ${blockingToken}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`${PYTHON} bench/python_client.py exited with ${code}: ${errors.slice(-2000)}`))));
  });
}

/** A client's figures in ms: warm ones are the median over batches of each batch's percentile. */
function figures(times: Times): Record<string, number> {
  const warm = (p: number) => summarize(times.warm.map((batch) => percentile(batch, p))).median;
  return { open_ms: times.open, first_cell_ms: times.first, cold_p50_ms: percentile(times.cold, 50), cold_p99_ms: percentile(times.cold, 99), warm_p50_ms: warm(50), warm_p99_ms: warm(99) };
}

export async function runPythonClientBench(): Promise<void> {
  process.stderr.write("bench python client: starting a wasm-repl server\n");
  const { server, url, secret } = await launchServer({ POOL_SIZE: String(POOL_SIZE), FRAME_RATE: "0" }, { name: "wasm-repl-python-client" });
  let rows: [string, Times][];
  try {
    // The server's own first cell (its code still cold) is nobody's: a session of another user takes it.
    const warmup = await ReplSession.open(url, { token: await benchToken(secret, "python-bench-warmup"), reconnect: false });
    await warmup.execute("0");
    await warmup.close();
    const typescript = await typescriptTimes(url, await benchToken(secret, "python-bench-ts"));
    const python = await pythonTimes(url, await benchToken(secret, "python-bench-py-async"), await benchToken(secret, "python-bench-py-blocking"));
    rows = [
      ["TypeScript SDK (ReplSession)", typescript],
      ["Python AsyncSession", python.async],
      ["Python Session (blocking)", python.blocking],
    ];
  } finally {
    await server.stop();
  }
  const right = "right" as const;
  const columns = [{ title: "client" }, { title: "open ms", align: right }, { title: "first cell ms", align: right }, { title: "cold p50 ms", align: right }, { title: "cold p99 ms", align: right }, { title: "warm p50 ms", align: right }, { title: "warm p99 ms", align: right }];
  console.log(`\nthe Python client beside the TypeScript SDK: trivial cell \`${CELL}\` round trip, locals "none", one session each on one server, each by a user of its own once the warm pool is full; first: the session's first cell (it takes the interpreter); cold: the ${COLD_CELLS} cells after it; warm: the p50/p99 of ${BATCHES} batches of ${CELLS_PER_BATCH} after those (median over batches)`);
  const measured = rows.map(([client, times]) => [client, figures(times)] as const);
  console.log(formatTable(columns, measured.map(([client, values]) => [client, ...Object.values(values).map((value) => formatNumber(value, 2))])));
  console.log(JSON.stringify({ bench: "python_client", clients: Object.fromEntries(measured.map(([client, values]) => [client, roundValues(values)])) }));
}

// Run alone: `npx tsx bench/python-client.ts`.
if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runPythonClientBench, 5 * 60_000, (text) => process.stderr.write(`bench python client: ${text}\n`));
