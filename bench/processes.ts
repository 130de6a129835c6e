// The processes a benchmark starts and reads: servers run as children of the bench, their process
// trees, and what /proc says about them (memory, CPU time). Linux only, like the servers measured.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { OutputTail } from "../test/helpers/output-tail.ts";

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every common architecture. */
const TICKS_PER_SECOND = 100;

// ---------------------------------------------------------------------------------------------
// Reading /proc.

interface ProcStat {
  ppid: number;
  /** User plus system CPU time, in ticks. */
  cpuTicks: number;
  /** When it started, in ticks since boot: with the pid, names a process even after pid reuse. */
  startTicks: number;
}

async function procStat(pid: number): Promise<ProcStat | null> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // ended while we looked
  }
  // The command name is in parentheses and may itself hold spaces or parentheses: fields are
  // counted from after the last ")", where field 3 (state) comes first.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), startTicks: Number(fields[19]) };
}

/** Every process below root (not root itself), children before grandchildren. */
export async function descendants(root: number): Promise<number[]> {
  const childrenOf = new Map<number, number[]>();
  const entries = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const stats = await Promise.all(entries.map(procStat));
  entries.forEach((pid, index) => {
    const stat = stats[index];
    if (!stat) return;
    childrenOf.set(stat.ppid, [...(childrenOf.get(stat.ppid) ?? []), pid]);
  });
  const found: number[] = [];
  const queue = [...(childrenOf.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    found.push(pid);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return found;
}

/** The direct children of a process. */
export async function children(parent: number): Promise<number[]> {
  const all = await descendants(parent);
  const stats = await Promise.all(all.map(procStat));
  return all.filter((_, index) => stats[index]?.ppid === parent);
}

async function startTimes(pids: readonly number[]): Promise<Map<number, number>> {
  const stats = await Promise.all(pids.map(procStat));
  return new Map(pids.flatMap((pid, index) => (stats[index] ? [[pid, stats[index]!.startTicks] as const] : [])));
}

/** CPU time used so far by each process, in ticks; a process that has gone counts zero. */
export async function cpuTicks(pids: readonly number[]): Promise<Map<number, number>> {
  const stats = await Promise.all(pids.map(procStat));
  return new Map(pids.map((pid, index) => [pid, stats[index]?.cpuTicks ?? 0]));
}

/**
 * Proportional set size of a process in MiB (zero once it has gone): its private pages plus its
 * share of the pages it shares, so summing PSS over processes never counts a page twice.
 */
export async function pssMib(pid: number): Promise<number> {
  let rollup: string;
  try {
    rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return 0;
  }
  const kilobytes = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
  return kilobytes / 1024;
}

/** PSS of a process and everything below it, in MiB. */
export async function treePssMib(root: number): Promise<number> {
  const each = await Promise.all([root, ...(await descendants(root))].map(pssMib));
  return each.reduce((sum, value) => sum + value, 0);
}

export interface QuietOptions {
  /** The tree counts as quiet once it used less than this share of one core... */
  maxCoreShare: number;
  /** ...over a window this long. */
  windowMs: number;
  timeoutMs: number;
}

/**
 * Waits until a process tree is idle: no boot, no kernel start-up, no clean-up still burning CPU
 * under the next measurement (on two cores, one busy process doubles every latency around it).
 * Resolves false when the tree never settled within the timeout; the caller goes on regardless.
 */
export async function waitForQuiet(root: number, options: QuietOptions): Promise<boolean> {
  const deadline = performance.now() + options.timeoutMs;
  const allowedTicks = (options.maxCoreShare * options.windowMs * TICKS_PER_SECOND) / 1000;
  while (performance.now() < deadline) {
    const tree = [root, ...(await descendants(root))];
    const before = await cpuTicks(tree);
    await sleep(options.windowMs);
    const after = await cpuTicks(tree);
    let used = 0;
    // Only processes alive at both readings: one that ended in between would count negative.
    for (const [pid, ticks] of after) if (ticks > 0) used += Math.max(0, ticks - (before.get(pid) ?? ticks));
    const newcomers = (await descendants(root)).some((pid) => !before.has(pid));
    if (used <= allowedTicks && !newcomers) return true;
  }
  return false;
}

/** CPU time used by the whole machine so far (all cores, not idle or iowait), in ticks. */
export async function machineBusyTicks(): Promise<number> {
  const fields = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
  return fields.slice(0, 8).reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
}

/**
 * CPU time of this process and of its children that have ended and been waited for (the servers
 * it stopped, and through them their sandboxes and kernels), in ticks.
 */
export async function ownTreeTicks(): Promise<number> {
  const stat = await readFile("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime, stime, cutime, cstime: fields 14 to 17.
  return fields.slice(11, 15).reduce((sum, value) => sum + Number(value), 0);
}

export function ticksToSeconds(ticks: number): number {
  return ticks / TICKS_PER_SECOND;
}

/** A TCP port free on 127.0.0.1 right now, for a server that cannot be told to pick its own. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("could not find a free port");
  return address.port;
}

// ---------------------------------------------------------------------------------------------
// Servers started by the bench.

export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Run once the server has stopped, however it was stopped (Ctrl-C included): scratch files. */
  cleanUp?: () => Promise<void>;
}

const OUTPUT_TAIL_CHARS = 16 * 1024;
const STOP_GRACE_MS = 15_000;

/** Every server (or cluster of them) started and not yet stopped, so that an error or Ctrl-C still stops them all. */
const running = new Set<{ stop(): Promise<void> }>();

/**
 * Has stopAllServers (the way out of runBench) stop something the bench started that is not a
 * ServerProcess (a cluster); returns the function that takes it off once it is stopped.
 */
export function stopOnTheWayOut(stoppable: { stop(): Promise<void> }): () => void {
  running.add(stoppable);
  return () => running.delete(stoppable);
}

/**
 * A server run as a child process. Its output is read continuously (a full pipe would block its
 * logging, and so the server) and only the tail is kept, to explain a crash.
 */
export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private readonly output: OutputTail;
  private stopping: Promise<void> | null = null;

  constructor(readonly spec: ServerSpec) {
    this.child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: a Ctrl-C in the terminal reaches only the bench, which then stops
      // the server in order (Jupyter would otherwise stop to ask for a confirmation on stdin).
      detached: true,
    });
    if (this.child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
    this.pid = this.child.pid;
    running.add(this);
    this.output = new OutputTail(spec.name, OUTPUT_TAIL_CHARS, () => this.alive);
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => this.output.append(text));
    }
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its output so far (the newest part), also after it exited. */
  get text(): string {
    return this.output.value;
  }

  /** The first match of pattern in the server's output, waiting for it up to timeoutMs. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return this.output.waitFor(pattern, timeoutMs, this.exited);
  }

  failure(what: string): Error {
    return this.output.failure(what);
  }

  /**
   * SIGTERM, which both servers answer with an orderly shutdown of their sessions or kernels;
   * whatever of the tree is still there after the grace period is killed.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.alive) await this.terminate();
      await this.spec.cleanUp?.();
      running.delete(this);
    })();
    return this.stopping;
  }

  private async terminate(): Promise<void> {
    const tree = await startTimes(await descendants(this.pid));
    this.child.kill("SIGTERM");
    const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!stopped) this.child.kill("SIGKILL");
    // Sandboxes and kernels leave with their parent; the ones that have not by now are killed.
    await sleep(stopped ? 200 : 500);
    const now = await startTimes([...tree.keys()]);
    for (const [pid, started] of now) {
      if (tree.get(pid) !== started) continue; // gone, or the pid now names another process
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ended in between
      }
    }
  }
}

/** Stops every server still running; used on the way out, whatever happened. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/**
 * Runs a bench as a program: on Ctrl-C, SIGTERM, the watchdog, an error or the end, stops every
 * server it started (their sandboxes and kernels with them), then exits; the first exit code wins.
 */
export function runBench(main: () => Promise<void>, watchdogMs: number, progress: (text: string) => void): void {
  let exiting = false;
  const stopAndExit = (code: number, why?: string) => {
    if (exiting) return;
    exiting = true;
    if (why) progress(why);
    void stopAllServers().then(() => process.exit(code));
  };
  const watchdog = setTimeout(() => stopAndExit(1, `took longer than ${watchdogMs / 1000} s: stopping`), watchdogMs);
  // `on`, not `once`: a second Ctrl-C (or tsx relaying the first again) must not find the process
  // without a listener, which makes tsx's own handler exit at once, before the servers are stopped.
  process.on("SIGINT", () => stopAndExit(130, "interrupted: stopping the servers"));
  process.on("SIGTERM", () => stopAndExit(143, "terminated: stopping the servers"));
  main()
    .catch((error: unknown) => {
      // After Ctrl-C, the measurement in flight fails as its server goes: not worth printing.
      if (exiting) return;
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => {
      clearTimeout(watchdog);
      // Exits even if a keep-alive socket lingers: the servers are already stopped.
      stopAndExit(process.exitCode === undefined ? 0 : Number(process.exitCode));
    });
}
