// The soak's driver: a child process of its own (forked by soak.ts), so that the clients' CPU and
// event loop are not those of the process that injects faults, relays through the cutting proxy
// and samples the servers. It runs the clients (client.ts) until told to stop, has each read its
// counter when told a fault is over, and sends back everything it recorded.
import { Recorder, SoakClient } from "./client.ts";
import type { FromDriver, ToDriver } from "./records.ts";

/** Sessions opened at once at the start: the pools of three servers refill a few at a time. */
const OPEN_BATCH = 6;
/** How long the clients get to finish their last requests after the stop. */
const STOP_GRACE_MS = 120_000;

function send(message: FromDriver): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

const recorder = new Recorder();
let clients: SoakClient[] = [];
let runs: Promise<void>[] = [];
/** For each fault being checked, the clients that have not read their counter yet. */
const owing = new Map<number, Set<number>>();

function checked(client: number, fault: number): void {
  const left = owing.get(fault);
  if (!left?.delete(client) || left.size > 0) return;
  owing.delete(fault);
  void send({ type: "checked", fault });
}

async function start(config: Extract<ToDriver, { type: "start" }>["config"]): Promise<void> {
  clients = Array.from({ length: config.clients }, (_, index) => new SoakClient(index, config, recorder));
  for (let first = 0; first < clients.length; first += OPEN_BATCH) await Promise.all(clients.slice(first, first + OPEN_BATCH).map((client) => client.start()));
  await send({ type: "ready", opened: clients.length });
  runs = clients.map((client) => client.run((fault) => checked(client.index, fault)));
}

async function stop(): Promise<void> {
  for (const client of clients) client.stop();
  await Promise.race([Promise.all(runs), new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
  await send({ type: "done", requests: recorder.requests, findings: recorder.findings, checks: recorder.checks });
  process.disconnect();
}

process.on("message", (message: ToDriver) => {
  if (message.type === "start") void start(message.config);
  else if (message.type === "check") {
    owing.set(message.fault, new Set(clients.map((client) => client.index)));
    for (const client of clients) client.requestCheck(message.fault);
  } else void stop();
});
// The parent went away: nothing is left to report to.
process.on("disconnect", () => process.exit(0));
