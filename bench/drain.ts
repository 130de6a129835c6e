// The drain benchmark: how long a server takes from SIGTERM to its exit when it must
// hand its sessions on. A server as a child process, sharing Redis (so a drain saves every
// session for other servers to wake), holds SESSIONS idle sessions with some state; it is sent
// SIGTERM, and the time until its process exits (as a kubelet sees it) is the figure, run after run. Tests do not assert it: it depends on the machine and its load (two saves at a
// time, each a snapshot, its delta and compression, and a store write).
// Part of `npm run bench`; alone: `npx tsx bench/drain.ts`.
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { deleteKeys } from "../test/helpers/redis-store.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, roundSummary, summarize } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
/** As many as the cluster test's drained pod held. */
const SESSIONS = 9;
const RUNS = 3;
const DRAIN_TIMEOUT_S = 10;
const SETUP = "n = 0\ndata = list(range(100_000))\ndef f(x):\n    return x + n";

function progress(text: string): void {
  process.stderr.write(`bench drain: ${text}\n`);
}

interface Drain {
  ms: number;
  lost: number;
}

async function drainOnce(run: number): Promise<Drain> {
  const keyPrefix = `wasm-repl-bench-${randomBytes(6).toString("hex")}:`;
  const { server, url, secret } = await launchServer({
    REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    POD_NAME: `bench-drain-${run}`,
    POOL_SIZE: "2",
    HIBERNATE_AFTER: "0",
    DRAIN_TIMEOUT: String(DRAIN_TIMEOUT_S),
    MAX_SESSIONS: String(SESSIONS),
    TENANT_MAX_SESSIONS: String(SESSIONS),
  });
  try {
    const token = await benchToken(secret, "bench-drain");
    const sessions: ReplSession[] = [];
    for (let index = 0; index < SESSIONS; index++) {
      const session = await ReplSession.open(url, { token, reconnect: false });
      const result = await session.execute(SETUP, { locals: "none" });
      if (!result.success) throw new Error(`setup cell failed: ${result.error?.type}: ${result.error?.message}`);
      sessions.push(session);
    }
    const started = performance.now();
    const stopping = server.stop(); // SIGTERM
    await server.exited;
    const ms = performance.now() - started;
    await stopping;
    const lost = server.text.split('"event":"session_lost_at_drain"').length - 1;
    for (const session of sessions) session.disconnect();
    return { ms, lost };
  } finally {
    await server.stop();
    await deleteKeys(REDIS_URL, keyPrefix); // the saved sessions: nobody wakes them
  }
}

export async function runDrainBench(): Promise<void> {
  const drains: Drain[] = [];
  for (let run = 1; run <= RUNS; run++) {
    progress(`run ${run} of ${RUNS}: ${SESSIONS} idle sessions, then SIGTERM`);
    drains.push(await drainOnce(run));
  }
  const total = summarize(drains.map((drain) => drain.ms));
  const perSession = summarize(drains.map((drain) => drain.ms / SESSIONS));
  const lost = drains.reduce((sum, drain) => sum + drain.lost, 0);
  console.log(`\nwasm-repl drain benchmark: a server as a child process, Redis at ${REDIS_URL}, ${SESSIONS} idle sessions, DRAIN_TIMEOUT ${DRAIN_TIMEOUT_S}, ${RUNS} runs`);
  console.log(
    formatTable(
      [{ title: "measure" }, { title: "unit" }, { title: "median", align: "right" }, { title: "spread", align: "right" }, { title: "n", align: "right" }],
      [
        [`drain: SIGTERM to exit, ${SESSIONS} sessions saved`, "ms", formatNumber(total.median, 0), formatRange(total, 0), String(total.n)],
        ["drain ÷ sessions", "ms", formatNumber(perSession.median, 0), formatRange(perSession, 0), String(perSession.n)],
      ],
    ),
  );
  if (lost > 0) console.log(`${lost} session(s) were lost at a drain (session_lost_at_drain): see the server's log`);
  console.log(JSON.stringify({ bench: "drain", sessions: SESSIONS, lost, drain_ms: roundSummary(total, 0), drain_per_session_ms: roundSummary(perSession, 0) }));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runDrainBench, 5 * 60_000, progress);
