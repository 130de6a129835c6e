// The doors benchmark: a trivial cell's round trip through each way into a session, in the same
// run: protocol v1 (the SDK over /v1/sessions), the Jupyter door (Jupyter's messaging protocol
// over /api/kernels/{id}/channels, as jupyter-server's gateway client and JupyterLab speak it),
// and, beside them, jupyter-server with ipykernel when installed. Cells are sent one after
// another, each once the last has ended; the first cells (warm-up, where V8 tiers the interpreter
// up) are reported apart from the warm ones.
import { ReplSession } from "../client/session.ts";
import type { DriverSession } from "./driver.ts";
import { findJupyter, JupyterApi, Kernel, startJupyter } from "./jupyter.ts";
import { formatNumber, formatTable, percentile, summarize } from "./stats.ts";
import { benchToken, launchServer } from "./wasm-repl.ts";

const WARMUP_CELLS = 300;
const BATCHES = 3;
const CELLS_PER_BATCH = 1000;
/** CPython has no JIT to warm up, and its round trip is tens of times longer. */
const PEER_CELLS_PER_BATCH = 200;

interface DoorFigures {
  door: string;
  cold: { p50: number; p99: number };
  warm: { p50: number; p99: number; n: number };
}

async function roundTrips(session: DriverSession, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let cell = 0; cell < count; cell++) {
    const started = performance.now();
    await session.execute("x = x + 1");
    times.push(performance.now() - started);
  }
  return times;
}

async function measureDoor(door: string, session: DriverSession, cellsPerBatch: number): Promise<DoorFigures> {
  await session.execute("x = 0");
  const cold = await roundTrips(session, WARMUP_CELLS);
  const batches: number[][] = [];
  for (let batch = 0; batch < BATCHES; batch++) batches.push(await roundTrips(session, cellsPerBatch));
  await session.close();
  const warm = (p: number) => summarize(batches.map((times) => percentile(times, p))).median;
  return { door, cold: { p50: percentile(cold, 50), p99: percentile(cold, 99) }, warm: { p50: warm(50), p99: warm(99), n: BATCHES * cellsPerBatch } };
}

/** The SDK's session as a bench session: locals "none", as a Jupyter cell sends no variables back. */
function v1Session(session: ReplSession): DriverSession {
  return {
    execute: async (code) => {
      const result = await session.execute(code, { locals: "none" });
      if (!result.success) throw new Error(`cell ${code} failed: ${result.error?.type}`);
    },
    close: () => session.close(),
  };
}

export async function runDoorsBench(): Promise<void> {
  process.stderr.write("bench doors: starting a wasm-repl server\n");
  const { server, url, secret } = await launchServer({ POOL_SIZE: "2", FRAME_RATE: "0" }, { name: "wasm-repl-doors" });
  const figures: DoorFigures[] = [];
  try {
    const v1 = await ReplSession.open(url, { token: await benchToken(secret, "doors-v1"), reconnect: false });
    figures.push(await measureDoor("wasm-repl, protocol v1", v1Session(v1), CELLS_PER_BATCH));
    const kernel = await Kernel.open(new JupyterApi(url, await benchToken(secret, "doors-jupyter")));
    figures.push(await measureDoor("wasm-repl, Jupyter door", kernel, CELLS_PER_BATCH));
  } finally {
    await server.stop();
  }
  const install = await findJupyter();
  if (install) {
    process.stderr.write("bench doors: starting jupyter-server\n");
    const peer = await startJupyter(install);
    try {
      figures.push(await measureDoor(`jupyter-server + ipykernel (${install.versions})`, await peer.open(), PEER_CELLS_PER_BATCH));
    } finally {
      await peer.stop();
    }
  }
  const right = "right" as const;
  const columns = [{ title: "door" }, { title: "cold p50 ms", align: right }, { title: "cold p99 ms", align: right }, { title: "warm p50 ms", align: right }, { title: "warm p99 ms", align: right }, { title: "warm cells", align: right }];
  const ms = (value: number) => formatNumber(value, 2);
  console.log(`\ntrivial cell \`x = x + 1\` round trip by door, one after another on one session each; cold: its first ${WARMUP_CELLS} cells, warm: the p50/p99 of ${BATCHES} batches after them (median over batches)`);
  console.log(formatTable(columns, figures.map(({ door, cold, warm }) => [door, ms(cold.p50), ms(cold.p99), ms(warm.p50), ms(warm.p99), String(warm.n)])));
  if (!install) console.log("jupyter-server + ipykernel: not installed, so not measured (apt-get install python3-jupyter-server python3-ipykernel)");
  console.log(JSON.stringify({ bench: "doors", doors: figures }));
}
