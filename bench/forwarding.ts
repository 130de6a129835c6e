// The forwarding benchmark: what a pod-to-pod hop adds to a cell's round trip. Two
// servers as child processes share a Redis; a session lives on the first; the same trivial cell
// is timed over a connection to it directly and over one through the second, which forwards.
// Part of `npm run bench`; alone: `npx tsx bench/forwarding.ts`.
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, percentile, roundSummary, summarize } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const TARGET_ADDED_MS = 1;
const WARMUP_CELLS = 1500;
const BATCHES = 5;
const CELLS_PER_BATCH = 1000;

function progress(text: string): void {
  process.stderr.write(`bench forwarding: ${text}\n`);
}

/** p50 of each batch, the two routes interleaved batch by batch so that drift hits both alike. */
async function measure(direct: ReplSession, forwarded: ReplSession): Promise<{ direct: number[]; forwarded: number[] }> {
  const p50s = { direct: [] as number[], forwarded: [] as number[] };
  for (let batch = 0; batch < BATCHES; batch++) {
    for (const [route, session] of [["direct", direct], ["forwarded", forwarded]] as const) {
      const times: number[] = [];
      for (let cell = 0; cell < CELLS_PER_BATCH; cell++) {
        const started = performance.now();
        await session.execute("1", { locals: "none" });
        times.push(performance.now() - started);
      }
      p50s[route].push(percentile(times, 50));
    }
  }
  return p50s;
}

export async function runForwardingBench(): Promise<void> {
  const secret = randomBytes(32).toString("hex");
  const shared = { REDIS_URL, REDIS_KEY_PREFIX: `wasm-repl-bench-${randomBytes(6).toString("hex")}:`, POOL_SIZE: "1", HIBERNATE_AFTER: "0" };
  progress("starting two servers sharing Redis");
  const [owner, front] = await Promise.all([
    launchServer({ ...shared, POD_NAME: "bench-owner" }, { name: "wasm-repl (owner)", secret }),
    launchServer({ ...shared, POD_NAME: "bench-front" }, { name: "wasm-repl (front)", secret }),
  ]);
  try {
    const token = await benchToken(owner.secret, "bench-forwarding");
    const direct = await ReplSession.open(owner.url, { token, reconnect: false });
    const forwarded = await ReplSession.attach(front.url, direct.id, { token, reconnect: false });
    progress(`warming up (${WARMUP_CELLS} cells)`);
    for (let cell = 0; cell < WARMUP_CELLS; cell++) await (cell % 2 ? direct : forwarded).execute("1", { locals: "none" });
    progress(`${BATCHES} batches of ${CELLS_PER_BATCH} cells per route`);
    const p50s = await measure(direct, forwarded);
    const added = p50s.forwarded.map((value, index) => value - p50s.direct[index]!);
    const figures = [
      { key: "cell_direct_p50_ms", label: "trivial cell, connected to the session's server (p50)", summary: summarize(p50s.direct) },
      { key: "cell_forwarded_p50_ms", label: "trivial cell, through another server that forwards (p50)", summary: summarize(p50s.forwarded) },
      { key: "forwarding_added_p50_ms", label: "added by forwarding (per batch: forwarded − direct)", summary: summarize(added), target: TARGET_ADDED_MS },
    ];
    console.log(`\nwasm-repl forwarding benchmark: two servers as child processes, Redis at ${REDIS_URL}, ${BATCHES} interleaved batches of ${CELLS_PER_BATCH} cells per route`);
    console.log(
      formatTable(
        [{ title: "measure" }, { title: "unit" }, { title: "median", align: "right" }, { title: "spread", align: "right" }, { title: "target" }, { title: "met" }],
        figures.map((figure) => {
          const target = "target" in figure ? figure.target : undefined;
          const met = target === undefined ? "" : figure.summary.median <= target ? "ok" : "MISSED";
          return [figure.label, "ms", formatNumber(figure.summary.median, 3), formatRange(figure.summary, 3), target === undefined ? "" : `≤ ${target}`, met];
        }),
      ),
    );
    console.log(JSON.stringify({ bench: "forwarding", ...Object.fromEntries(figures.map((figure) => [figure.key, { unit: "ms", ...roundSummary(figure.summary, 3) }])) }));
    await forwarded.close().catch(() => {});
  } finally {
    await Promise.all([owner.server.stop(), front.server.stop()]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runForwardingBench, 5 * 60_000, progress);
