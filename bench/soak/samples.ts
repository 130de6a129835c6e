// What the soak samples of the servers while it runs, and whether any of it grows without bound:
// each pod's resident memory and JavaScript heap (its /metrics: prom-client's process and Node.js
// gauges), its open file descriptors and its sandbox processes (/proc), and Redis's used memory
// (INFO memory).
import { readdir, readFile } from "node:fs/promises";
import type { Cluster } from "../../test/helpers/cluster.ts";
import { descendants } from "../processes.ts";

export interface PodSample {
  pod: string;
  pid: number;
  rssBytes: number;
  heapUsedBytes: number | null;
  openFds: number;
  sandboxes: number;
  /** Resident memory of its sandbox processes together. */
  sandboxRssBytes: number;
}

export interface Sample {
  at: number;
  pods: PodSample[];
  redisUsedBytes: number | null;
}

/** A series that grows by more than this share of its level over the run (and `floor` at least) grows without bound. */
const GROWTH_SHARE = 0.1;
const SAMPLE_TIMEOUT_MS = 2000;

export async function sampleCluster(cluster: Cluster): Promise<Sample> {
  const pods = await Promise.all(cluster.pods.filter((pod) => pod.alive && pod.pid !== undefined).map((pod) => samplePod(pod.name, pod.pid!, pod.url)));
  return { at: Date.now(), pods: pods.filter((sample) => sample !== null), redisUsedBytes: await redisUsedMemory(cluster) };
}

async function samplePod(pod: string, pid: number, url: string): Promise<PodSample | null> {
  try {
    const rssKb = (await rssBytes(pid)) / 1024;
    const openFds = (await readdir(`/proc/${pid}/fd`)).length;
    const sandboxes = await descendants(pid);
    const sandboxRss = await Promise.all(sandboxes.map(rssBytes));
    return { pod, pid, rssBytes: rssKb * 1024, heapUsedBytes: await heapUsed(url), openFds, sandboxes: sandboxes.length, sandboxRssBytes: sandboxRss.reduce((sum, bytes) => sum + bytes, 0) };
  } catch {
    return null; // it ended while we looked
  }
}

/** A process's resident memory (VmRSS); 0 once it has gone. */
async function rssBytes(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** prom-client's nodejs_heap_size_used_bytes, as the server's /metrics serves it (prefixed wasm_repl_). */
async function heapUsed(url: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) })).text();
    const value = /^wasm_repl_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
    return value === undefined ? null : Number(value);
  } catch {
    return null; // stalled or restarting: this sample has none
  }
}

async function redisUsedMemory(cluster: Cluster): Promise<number | null> {
  try {
    const info = await Promise.race([cluster.redisClient().info("memory"), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), SAMPLE_TIMEOUT_MS).unref())]);
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  } catch {
    return null;
  }
}

/** Samples every `everyMs` until stopped; the samples so far are in `samples`. */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: Cluster,
    private readonly everyMs: number,
  ) {}

  start(): void {
    const take = () => (this.pending = sampleCluster(this.cluster).then((sample) => void this.samples.push(sample), () => {}));
    take();
    this.timer = setInterval(take, this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pending;
  }
}

export interface Trend {
  series: string;
  unit: "MiB" | "count";
  n: number;
  first: number;
  last: number;
  min: number;
  max: number;
  /** Least-squares slope, per hour. */
  perHour: number;
  /** null: too few samples to judge. */
  grows: boolean | null;
}

/** Below these, growth is noise (a GC cycle, a pool refill), whatever its share. */
const FLOOR = { rss: 32, heap: 16, fds: 16, sandboxes: 3, sandboxRss: 256, redis: 4 };
/** Settled samples (after the first quarter) a verdict needs: a short run says nothing of a trend. */
const JUDGED_AFTER = 8;

/**
 * One series per pod process (a pod restarted by a fault starts a new one) and Redis's, each
 * judged on its samples after the first quarter of the run: it grows without bound when the
 * least-squares line rises by more than 10% of its median and more than a floor over that span.
 */
export function trends(samples: readonly Sample[]): Trend[] {
  const series = new Map<string, { unit: Trend["unit"]; floor: number; points: Array<[number, number]> }>();
  const add = (name: string, unit: Trend["unit"], floor: number, at: number, value: number | null) => {
    if (value === null || !Number.isFinite(value)) return;
    const entry = series.get(name) ?? { unit, floor, points: [] };
    entry.points.push([at, value]);
    series.set(name, entry);
  };
  const mib = (bytes: number | null) => (bytes === null ? null : bytes / 2 ** 20);
  for (const sample of samples) {
    for (const pod of sample.pods) {
      const name = `${pod.pod} (pid ${pod.pid})`;
      add(`${name} RSS`, "MiB", FLOOR.rss, sample.at, mib(pod.rssBytes));
      add(`${name} heap used`, "MiB", FLOOR.heap, sample.at, mib(pod.heapUsedBytes));
      add(`${name} open fds`, "count", FLOOR.fds, sample.at, pod.openFds);
      add(`${name} sandbox processes`, "count", FLOOR.sandboxes, sample.at, pod.sandboxes);
      add(`${name} sandboxes' RSS`, "MiB", FLOOR.sandboxRss, sample.at, mib(pod.sandboxRssBytes));
    }
    add("redis used_memory", "MiB", FLOOR.redis, sample.at, mib(sample.redisUsedBytes));
  }
  return [...series].map(([name, { unit, floor, points }]) => judge(name, unit, floor, points));
}

function judge(name: string, unit: Trend["unit"], floor: number, points: Array<[number, number]>): Trend {
  const values = points.map(([, value]) => value);
  const settled = points.slice(Math.floor(points.length / 4));
  const slopePerMs = slope(settled);
  const span = settled.length > 1 ? settled.at(-1)![0] - settled[0]![0] : 0;
  // Over the run after its first quarter (a warm-up), the growth the slope predicts.
  const growth = slopePerMs * span;
  const sorted = [...settled.map(([, value]) => value)].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return {
    series: name,
    unit,
    n: points.length,
    first: values[0]!,
    last: values.at(-1)!,
    min: Math.min(...values),
    max: Math.max(...values),
    perHour: slopePerMs * 3_600_000,
    grows: settled.length < JUDGED_AFTER ? null : growth > Math.max(floor, GROWTH_SHARE * median),
  };
}

function slope(points: ReadonlyArray<[number, number]>): number {
  if (points.length < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}
