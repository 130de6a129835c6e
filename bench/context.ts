// The context benchmark: how long a large add_context payload takes to become a Python
// variable. A 50 MiB string goes through the SDK (one frame under MAX_FRAME_BYTES) to a server
// child process; timed by the server from the frame's arrival, before it is parsed, until the
// variable exists (its context_added log line), and by the client from its call (encoding and
// transfer included) until a cell read it.
// Part of `npm run bench`; alone: `npx tsx bench/context.ts`.
import { pathToFileURL } from "node:url";
import { ReplSession } from "../client/session.ts";
import { runBench } from "./processes.ts";
import { formatNumber, formatRange, formatTable, roundSummary, summarize, verdict } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const PAYLOAD_MIB = 50;
const TARGET_MS = 1000;
const RUNS = 5;

function progress(text: string): void {
  process.stderr.write(`bench context: ${text}\n`);
}

export async function runContextBench(): Promise<void> {
  progress("starting the server");
  const { server, url, secret } = await launchServer({ POOL_SIZE: "1", SESSION_MEMORY_MB: "1024" });
  try {
    const payload = "wasm-repl context ".repeat(Math.ceil((PAYLOAD_MIB * 1024 * 1024) / 18)).slice(0, PAYLOAD_MIB * 1024 * 1024);
    const arrived: number[] = [];
    const usable: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const session = await ReplSession.open(url, { token: await benchToken(secret, `context-${run}`), reconnect: false });
      await session.execute("0"); // the sandbox is taken at the first cell: not part of the payload's time
      const started = performance.now();
      const result = await session.addContext(payload, { index: 0 });
      if (!result.success) throw new Error(`add_context failed: ${result.error?.message}`);
      const read = await session.execute("len(context_0)");
      usable.push(performance.now() - started);
      if (read.value !== String(payload.length)) throw new Error(`context_0 has ${read.value} characters, expected ${payload.length}`);
      const [, ms] = await server.waitForOutput(new RegExp(`"context_added".*?"session_id":"${session.id}".*?"duration_ms":(\\d+)`), 10_000);
      arrived.push(Number(ms));
      progress(`run ${run}: ${ms} ms from arrival, ${formatNumber(usable.at(-1)!)} ms from the SDK call`);
      await session.close();
    }
    const figures = [
      { key: "context_50mib_arrival_to_variable_ms", label: `${PAYLOAD_MIB} MiB add_context: frame arrived → variable exists (server)`, summary: summarize(arrived), target: TARGET_MS },
      { key: "context_50mib_call_to_read_ms", label: `… SDK call → a cell has read it (client; encoding, transfer)`, summary: summarize(usable), target: null },
    ];
    console.log(`\nwasm-repl context benchmark: a ${PAYLOAD_MIB} MiB string through the SDK to a server child process, ${RUNS} runs`);
    console.log(
      formatTable(
        [{ title: "measure" }, { title: "unit" }, { title: "median", align: "right" }, { title: "spread", align: "right" }, { title: "target" }, { title: "met" }],
        figures.map((figure) => [
          figure.label,
          "ms",
          formatNumber(figure.summary.median),
          formatRange(figure.summary),
          figure.target === null ? "" : `≤ ${figure.target}`,
          figure.target === null ? "" : verdict(figure.summary.median, figure.target),
        ]),
      ),
    );
    console.log(JSON.stringify({ bench: "context", ...Object.fromEntries(figures.map((figure) => [figure.key, { unit: "ms", ...roundSummary(figure.summary), target: figure.target }])) }));
  } finally {
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) runBench(runContextBench, 5 * 60_000, progress);
