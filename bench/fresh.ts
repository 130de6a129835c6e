// Fresh interpreters: everything that needs one that never ran anything (a stateless /execute, a
// new session's first cells, a burst of sessions, a wake) and what an idle one costs. Each figure
// is measured on this tree's server and, in the same run, on the server of a baseline commit
// (`--baseline REF`, default the commit before interpreters shared processes), checked out aside.
// Cold figures include the first cells of a fresh session: nothing is warmed up first.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ReplSession } from "../client/session.ts";
import { withBaseline } from "./baseline.ts";
import { cpuTicks, descendants, pssMib, runBench, ticksToSeconds, waitForQuiet } from "./processes.ts";
import { formatNumber, formatTable, percentile, summarize, verdict, type Summary } from "./stats.ts";
import { benchToken, launchServer, REPO_ROOT } from "./wasm-repl.ts";

/** Main before sandbox processes hosted several interpreters. */
const DEFAULT_BASELINE = "42d7a9e";
const WATCHDOG_MS = 15 * 60_000;

interface Figure {
  key: string;
  label: string;
  unit: string;
  value: number;
  detail: string;
  target?: number;
  better?: "lower" | "higher";
}

function progress(text: string): void {
  process.stderr.write(`bench fresh ${text}\n`);
}

interface Server {
  url: string;
  pid: number;
  token(name: string): Promise<string>;
  stop(): Promise<void>;
}

async function start(root: string, settings: Record<string, string>): Promise<Server> {
  // Quotas are a policy, not what this measures: the burst opens 50 sessions of one user at once.
  const quotas = { MAX_SESSIONS: "200", TENANT_MAX_SESSIONS: "200", TENANT_OPEN_RATE: "10000", TENANT_MAX_RUNNING: "64" };
  const { server, url, secret } = await launchServer({ POOL_SIZE: "2", LOG_LEVEL: "warn", ...quotas, ...settings }, { root });
  // The pool fills, the base snapshot is read: measure from a settled server.
  await waitForQuiet(server.pid, { maxCoreShare: 0.1, windowMs: 500, timeoutMs: 60_000 });
  return { url, pid: server.pid, token: (name) => benchToken(secret, name), stop: () => server.stop() };
}

async function post(server: Server, token: string, code: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${server.url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ code }),
  });
  const answer = (await response.json()) as { success?: boolean; code?: string; message?: string };
  if (!answer.success) throw new Error(`/execute failed: ${JSON.stringify(answer).slice(0, 300)}`);
  return performance.now() - started;
}

/**
 * CPU of the server and every process under it, in seconds: the live ones', and (through the
 * server's cutime and cstime) that of its children which have ended, such as a sandbox process
 * per request.
 */
async function treeCpuSeconds(root: number): Promise<number> {
  const fields = (await readFile(`/proc/${root}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const ended = Number(fields[13]) + Number(fields[14]); // cutime, cstime
  const ticks = await cpuTicks([root, ...(await descendants(root))]);
  let sum = ended;
  for (const value of ticks.values()) sum += value;
  return ticksToSeconds(sum);
}

async function statelessFigures(server: Server): Promise<Figure[]> {
  const token = await server.token("stateless");
  await post(server, token, "1"); // the identity's first request: its process, if any, starts
  await waitForQuiet(server.pid, { maxCoreShare: 0.1, windowMs: 500, timeoutMs: 60_000 });
  // Spaced requests: each finds the pool refilled, as a request after a pause does.
  const spaced: number[] = [];
  for (let index = 0; index < 8; index++) {
    spaced.push(await post(server, token, "x = 1"));
    await waitForQuiet(server.pid, { maxCoreShare: 0.1, windowMs: 300, timeoutMs: 60_000 });
  }
  // Back to back: the pool's refill is on the path.
  const cpuBefore = await treeCpuSeconds(server.pid);
  const serial: number[] = [];
  for (let index = 0; index < 20; index++) serial.push(await post(server, token, "x = 1"));
  const cpuPerRequest = ((await treeCpuSeconds(server.pid)) - cpuBefore) / serial.length;
  // Four clients for a fixed time.
  const seconds = 10;
  const deadline = performance.now() + seconds * 1000;
  let served = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < deadline) {
        await post(server, token, "x = 1");
        served++;
      }
    }),
  );
  const spacedSummary = summarize(spaced);
  const serialSummary = summarize(serial);
  return [
    { key: "fresh_ready_ms", label: "fresh interpreter: request to result, pool refilled (POST /execute)", unit: "ms", value: spacedSummary.median, detail: range(spacedSummary), target: 100, better: "lower" },
    { key: "fresh_cpu_ms", label: "fresh interpreter: server CPU per stateless request", unit: "ms", value: cpuPerRequest * 1000, detail: `${serial.length} requests`, target: 100, better: "lower" },
    { key: "execute_c1_p50_ms", label: "POST /execute without a session, concurrency 1, back to back, p50", unit: "ms", value: serialSummary.median, detail: `p99 ${formatNumber(percentile(serial, 99))}`, target: 25, better: "lower" },
    { key: "execute_c4_rps", label: "POST /execute without a session, concurrency 4", unit: "req/s", value: served / seconds, detail: `${served} in ${seconds} s`, target: 50, better: "higher" },
  ];
}

async function sessionFigures(server: Server): Promise<Figure[]> {
  // A fresh session's first 100 cells, nothing warmed up: five sessions, one after another.
  const firstCells: number[] = [];
  for (let index = 0; index < 5; index++) {
    const session = await ReplSession.open(server.url, { token: await server.token("notebook"), reconnect: false });
    for (let cell = 0; cell < 100; cell++) {
      const started = performance.now();
      await session.execute("x = 1", { locals: "none" });
      firstCells.push(performance.now() - started);
    }
    await session.close();
  }
  await waitForQuiet(server.pid, { maxCoreShare: 0.1, windowMs: 500, timeoutMs: 60_000 });
  // A burst: 50 sessions of one user opened at once, until every first cell has its result.
  const token = await server.token("burst");
  const began = performance.now();
  const sessions = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const session = await ReplSession.open(server.url, { token, reconnect: false });
      await session.execute("x = 1", { locals: "none" });
      return session;
    }),
  );
  const burstMs = performance.now() - began;
  await Promise.all(sessions.map((session) => session.close()));
  const first = summarize(firstCells);
  return [
    { key: "first_100_cells_p50_ms", label: "first 100 cells of a fresh session, p50 (5 sessions)", unit: "ms", value: first.median, detail: `p99 ${formatNumber(percentile(firstCells, 99))}`, target: 1.5, better: "lower" },
    { key: "burst_50_sessions_s", label: "50 sessions opened at once, until every first cell has a result", unit: "s", value: burstMs / 1000, detail: "one user", target: 5, better: "lower" },
  ];
}

/** PSS of idle live sessions: nothing kept ready, so every sandbox process holds sessions only. */
async function memoryFigure(root: string): Promise<Figure> {
  const server = await start(root, { POOL_SIZE: "0", POOL_MAX_PER_IDENTITY: "0" });
  try {
    const count = 8;
    const token = await server.token("idle");
    const sessions = [];
    for (let index = 0; index < count; index++) {
      const session = await ReplSession.open(server.url, { token, reconnect: false });
      await session.execute("x = 1", { locals: "none" });
      sessions.push(session);
    }
    await waitForQuiet(server.pid, { maxCoreShare: 0.05, windowMs: 1000, timeoutMs: 60_000 });
    let total = 0;
    for (const pid of await descendants(server.pid)) total += await pssMib(pid);
    await Promise.all(sessions.map((session) => session.close()));
    return { key: "idle_session_pss_mib", label: "idle live session, PSS (sandbox processes ÷ sessions)", unit: "MiB", value: total / count, detail: `${count} sessions of one user`, target: 60, better: "lower" };
  } finally {
    await server.stop();
  }
}

/** A small session hibernated, then its next cell: the wake is that cell's time. */
async function wakeFigure(root: string): Promise<Figure> {
  const server = await start(root, { HIBERNATE_AFTER: "1" });
  try {
    const wakes: number[] = [];
    for (let index = 0; index < 5; index++) {
      const session = await ReplSession.open(server.url, { token: await server.token("sleeper"), reconnect: false });
      await session.execute("data = list(range(1000))", { locals: "none" });
      // Hibernated once its sandbox processes are quiet again and the sweep ran (1 s idle).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await waitForQuiet(server.pid, { maxCoreShare: 0.05, windowMs: 500, timeoutMs: 60_000 });
      const started = performance.now();
      const result = await session.execute("len(data)", { locals: "none" });
      wakes.push(performance.now() - started);
      if (result.value !== "1000") throw new Error(`the woken session lost its data: ${JSON.stringify(result.value)}`);
      await session.close();
    }
    const summary = summarize(wakes);
    return { key: "wake_ms", label: "wake of a small hibernated session (its next cell)", unit: "ms", value: summary.median, detail: range(summary), target: 200, better: "lower" };
  } finally {
    await server.stop();
  }
}

/** A model that ends every RLM at once: `FINAL(done)` to every completion, as an OpenAI-compatible server. */
async function finishingModel(): Promise<{ url: string; close(): void }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const body = JSON.stringify({
        id: "bench",
        object: "chat.completion",
        created: 0,
        model: "bench",
        choices: [{ index: 0, message: { role: "assistant", content: "FINAL(done)" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      response.writeHead(200, { "content-type": "application/json" }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => server.close() };
}

/** rlm_query_batched of 8 prompts below MAX_DEPTH: 8 child sessions, each a fresh interpreter, all at once. */
async function childrenFigure(root: string): Promise<Figure> {
  const model = await finishingModel();
  const server = await start(root, { LLM_BASE_URL: model.url, LLM_API_KEY: "bench", LLM_MODEL: "bench", MAX_DEPTH: "2", RLM_MAX_CONCURRENT_CHILDREN: "8" });
  try {
    const calls: number[] = [];
    for (let index = 0; index < 3; index++) {
      const session = await ReplSession.open(server.url, { token: await server.token("agent"), reconnect: false });
      await session.execute("x = 1", { locals: "none" });
      const started = performance.now();
      const result = await session.execute("answers = rlm_query_batched([f'task {i}' for i in range(8)])\nanswers", { locals: "none" });
      calls.push(performance.now() - started);
      if (!result.success || !String(result.value).includes("done")) throw new Error(`rlm_query_batched failed: ${JSON.stringify(result).slice(0, 300)}`);
      await session.close();
      await waitForQuiet(server.pid, { maxCoreShare: 0.1, windowMs: 500, timeoutMs: 60_000 });
    }
    const summary = summarize(calls);
    return { key: "rlm_batched_8_ms", label: "rlm_query_batched of 8 prompts below MAX_DEPTH: all 8 children done", unit: "ms", value: summary.median, detail: range(summary), target: 1000, better: "lower" };
  } finally {
    await server.stop();
    model.close();
  }
}

function range(summary: Summary): string {
  return `${formatNumber(summary.min)}–${formatNumber(summary.max)}, n ${summary.n}`;
}

async function measure(name: string, root: string): Promise<Figure[]> {
  progress(`${name}: stateless requests and sessions`);
  const server = await start(root, {});
  let figures: Figure[];
  try {
    figures = [...(await statelessFigures(server)), ...(await sessionFigures(server))];
  } finally {
    await server.stop();
  }
  progress(`${name}: idle memory`);
  figures.push(await memoryFigure(root));
  progress(`${name}: wake`);
  figures.push(await wakeFigure(root));
  progress(`${name}: child RLMs`);
  figures.push(await childrenFigure(root));
  return figures;
}

export async function runFreshBench(baselineRef = DEFAULT_BASELINE): Promise<void> {
  const ours = await measure("this tree", REPO_ROOT);
  const before = await withBaseline(baselineRef, ({ root }) => measure(`baseline ${baselineRef}`, root));
  const rows = ours.map((figure) => {
    const old = before.find((candidate) => candidate.key === figure.key);
    const target = figure.target === undefined ? "" : `${figure.better === "higher" ? "≥" : "≤"} ${figure.target}`;
    const met = figure.target === undefined ? "" : verdict(figure.value, figure.target, figure.better);
    return [figure.label, figure.unit, formatNumber(figure.value, 1), figure.detail, target, met, old ? formatNumber(old.value, 1) : "", old?.detail ?? ""];
  });
  console.log(`\nfresh interpreters: this tree against ${baselineRef} (the commit before), one run, POOL_SIZE 2`);
  console.log(
    formatTable(
      [{ title: "measure" }, { title: "unit" }, { title: "now", align: "right" }, { title: "" }, { title: "target" }, { title: "met" }, { title: "before", align: "right" }, { title: "" }],
      rows,
    ),
  );
  console.log(JSON.stringify({ bench: "fresh", baseline: baselineRef, now: Object.fromEntries(ours.map((f) => [f.key, Number(f.value.toFixed(2))])), before: Object.fromEntries(before.map((f) => [f.key, Number(f.value.toFixed(2))])) }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = process.argv.indexOf("--baseline");
  runBench(() => runFreshBench(flag === -1 ? undefined : process.argv[flag + 1]), WATCHDOG_MS, progress);
}
