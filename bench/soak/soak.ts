// The soak itself, on a cluster someone started (bench/soak/run.ts for `npm run soak`,
// test/cluster/soak.test.ts for its short version in `npm test`): the clients run in a driver
// process of their own (load.ts) and reach haproxy through the cutting proxy (proxy.ts); the
// faults (faults.ts) come one at a time, each in a window of its own: load before it, the
// fault, load after it, and every client reads its counter at the window's end. The servers are
// sampled all along (samples.ts). What comes back is the data and its report (report.ts).
import { fork, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster } from "../../test/helpers/cluster.ts";
import { fault, type FaultName } from "./faults.ts";
import { CuttingProxy } from "./proxy.ts";
import type { DriverConfig, FromDriver, ToDriver } from "./records.ts";
import { buildReport, type FaultWindow, type SoakData, type SoakReport } from "./report.ts";
import { Sampler } from "./samples.ts";

const REPO_ROOT = join(import.meta.dirname, "../..");
/** How long opening every client's first session may take, and the clients' last requests at the end. */
const OPEN_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 180_000;
/** Every client reads its counter within this at a window's end (a request's own deadline is shorter). */
const CHECK_TIMEOUT_MS = 150_000;

/**
 * The pods' POD_HEARTBEAT_TTL: a saturated two-core machine stalls a pod's event loop for seconds
 * at times, and the cluster test's 2 s would take live pods for dead (the production default is 15).
 */
export const SOAK_HEARTBEAT_TTL_S = 5;

/** What every pod of a soak runs with, over the cluster's own settings (test/helpers/cluster.ts). */
export function soakPodEnv(options: { maxSessions: number; hibernateAfterS: number }): Record<string, string> {
  return {
    POD_HEARTBEAT_TTL: String(SOAK_HEARTBEAT_TTL_S),
    HIBERNATE_AFTER: String(options.hibernateAfterS),
    MAX_SESSIONS: String(options.maxSessions),
    // One tenant for every client: its quotas are not what the soak is about.
    TENANT_MAX_SESSIONS: "100000",
    TENANT_MAX_RUNNING: "100000",
    TENANT_OPEN_RATE: "100000",
    // The clients of a user, over all their connections, send far more than one person does.
    FRAME_RATE: "0",
    BYTE_RATE_MB: "0",
  };
}

export interface SoakOptions {
  clients: number;
  /** Users the clients are spread over (interpreters of one user share sandbox processes). */
  users: number;
  faults: FaultName[];
  /** How long the load runs in all; each fault has an equal window of it. */
  seconds: number;
  /** Size of an add_context payload. */
  contextBytes: number;
  /** The pods' HIBERNATE_AFTER and POD_HEARTBEAT_TTL. */
  hibernateAfterS: number;
  heartbeatTtlMs: number;
  sampleEveryMs: number;
  /** A request unanswered this long past its cell's own timeout counts as unanswered. */
  deadlineSlackS: number;
  /** Described in the report's first line. */
  setup: string;
  progress(text: string): void;
}

export async function runSoak(cluster: Cluster, options: SoakOptions): Promise<{ data: SoakData; report: SoakReport }> {
  const { progress } = options;
  const proxy = await CuttingProxy.start({ host: "127.0.0.1", port: Number(new URL(cluster.url).port) });
  const driver = new Driver();
  const sampler = new Sampler(cluster, options.sampleEveryMs);
  const loadAtStart = loadavg();
  try {
    const tokenTtlS = options.seconds + 3600;
    const tokens = await Promise.all(Array.from({ length: options.users }, (_, user) => cluster.token(`soak-${user}`, "soak", tokenTtlS)));
    const config: DriverConfig = { url: proxy.url, clients: options.clients, tokens, hibernateAfterS: options.hibernateAfterS, contextBytes: options.contextBytes, deadlineSlackS: options.deadlineSlackS };
    const startAt = Date.now();
    progress(`opening ${options.clients} sessions`);
    driver.send({ type: "start", config });
    await driver.next("ready", OPEN_TIMEOUT_MS);
    progress(`opened them in ${((Date.now() - startAt) / 1000).toFixed(1)} s; the load runs`);
    sampler.start();

    const windows: FaultWindow[] = [];
    const schedule = options.faults.length > 0 ? options.faults : [null];
    const windowMs = (options.seconds * 1000) / schedule.length;
    for (const [index, name] of schedule.entries()) {
      windows.push(await faultWindow(index, name, windowMs, { cluster, proxy, driver, options }));
    }

    progress("stopping the load");
    driver.send({ type: "stop" });
    const done = await driver.next("done", STOP_TIMEOUT_MS);
    await sampler.stop();
    const loadAtEnd = loadavg();
    const averages = (load: number[]) => load.map((value) => value.toFixed(2)).join(" ");
    const data: SoakData = {
      setup: options.setup,
      machine: `load average (1, 5, 15 min) ${averages(loadAtStart)} at the start, ${averages(loadAtEnd)} at the end`,
      startAt,
      windows,
      requests: done.requests,
      findings: done.findings,
      checks: done.checks,
      samples: sampler.samples,
    };
    return { data, report: buildReport(data) };
  } finally {
    await sampler.stop();
    driver.kill();
    await proxy.stop();
  }
}

interface WindowParts {
  cluster: Cluster;
  proxy: CuttingProxy;
  driver: Driver;
  options: SoakOptions;
}

/** Load for a third of the window, the fault, load for the rest; then every client reads its counter. */
async function faultWindow(index: number, name: FaultName | null, windowMs: number, { cluster, proxy, driver, options }: WindowParts): Promise<FaultWindow> {
  const startAt = Date.now();
  const chosen = name === null ? null : fault(name);
  await sleep(chosen ? windowMs / 3 : 0);
  const injectedAt = Date.now();
  let clearedAt = injectedAt;
  let notes: string[] = [];
  let mayLose: string[] = [];
  if (chosen) {
    options.progress(`fault ${index + 1} of ${options.faults.length}: ${chosen.name}`);
    const injected = await chosen.inject({ cluster, proxy, heartbeatTtlMs: options.heartbeatTtlMs });
    ({ clearedAt, notes } = injected);
    mayLose = [...(injected.mayLose ?? [])];
    options.progress(`${chosen.name} over${notes.length > 0 ? `: ${notes.join("; ")}` : ""}`);
    // Whatever went comes back, as a replaced pod would, while the load goes on.
    await cluster.ensureAllUp(120_000);
  }
  await sleep(Math.max(0, startAt + windowMs - Date.now()));
  driver.send({ type: "check", fault: index });
  await driver.next("checked", CHECK_TIMEOUT_MS, (message) => message.fault === index).catch((error: Error) => options.progress(`the counter checks after ${name ?? "the load"} did not all end: ${error.message}`));
  return { index, name: name ?? "none", description: chosen?.description ?? "no fault: the load alone", startAt, injectedAt, clearedAt, endAt: Date.now(), notes, mayLose };
}

/** The driver process and its messages. */
class Driver {
  private readonly child: ChildProcess;
  private readonly inbox: FromDriver[] = [];
  private waiting: (() => void) | null = null;
  private exited: string | null = null;

  constructor() {
    // Its own loader flags, not this process's (a test runner's would make it a test).
    this.child = fork(join(import.meta.dirname, "load.ts"), [], { cwd: REPO_ROOT, execArgv: ["--import", "tsx"], serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (message: FromDriver) => {
      this.inbox.push(message);
      this.waiting?.();
    });
    this.child.on("error", (error) => {
      this.exited = `the driver failed: ${error.message}`;
      this.waiting?.();
    });
    this.child.on("exit", (code, signal) => {
      this.exited = `the driver exited (${signal ?? code})`;
      this.waiting?.();
    });
  }

  /** Sends unless the driver has gone (the next wait for its answer says so). */
  send(message: ToDriver): void {
    if (this.child.connected) this.child.send(message);
  }

  /** The next message of this type (that `match` takes), within timeoutMs. */
  async next<T extends FromDriver["type"]>(type: T, timeoutMs: number, match: (message: Extract<FromDriver, { type: T }>) => boolean = () => true): Promise<Extract<FromDriver, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.inbox.findIndex((message) => message.type === type && match(message as Extract<FromDriver, { type: T }>));
      if (found >= 0) return this.inbox.splice(found, 1)[0] as Extract<FromDriver, { type: T }>;
      if (this.exited) throw new Error(`${this.exited} before it sent "${type}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the driver sent no "${type}" within ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}
