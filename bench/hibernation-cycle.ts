// Hibernate and wake one session the way the server does it, without the server around it: the
// real sandbox runtime, the server's Interpreter and Hibernator (delta against the base snapshot,
// gzip), and a real snapshot store. What a session pays to go to sleep, what it costs to keep
// asleep, and how long it takes to answer again.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { loadConfig } from "../server/config.ts";
import { Hibernator } from "../server/hibernation/hibernator.ts";
import type { Logger } from "../server/log.ts";
import { Interpreter, type SandboxSource, type SnapshotLoader } from "../server/sandbox/interpreter.ts";
import { startSandboxRuntime, type SandboxRuntime } from "../server/sandbox/runtime.ts";
import type { Sandbox } from "../server/sandbox/sandbox.ts";
import { MemorySnapshotStore } from "../server/store/memory.ts";
import { RedisConnection } from "../server/store/redis-connection.ts";
import { RedisSnapshotStore } from "../server/store/redis.ts";
import type { SnapshotStore } from "../server/store/store.ts";
import { summarize } from "./stats.ts";
import type { Figure, Progress } from "./workload.ts";

const REDIS_URL = "redis://127.0.0.1:6379";
const REDIS_WAIT_MS = 2000;
// Far above what a 100 MiB snapshot takes over loopback; only a hung Redis should reach it.
const REDIS_COMMAND_TIMEOUT_MS = 30_000;
const CELL_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;

/** What a session holds when it hibernates, and the first cell after it wakes. */
export interface SessionKind {
  key: "small" | "big";
  label: string;
  /** Run in a fresh interpreter before hibernating. */
  setup: string;
  /** Fails (assert) unless the state came back: a wake that lost it is not a wake. */
  check: string;
  runs: number;
}

export const SMALL: SessionKind = {
  key: "small",
  label: "small session (a few variables and a function)",
  setup: ["a = 42", "b = 'hello' * 10", "c = {'k': [1, 2, 3]}", "def f(x):", "    return x * a"].join("\n"),
  check: "assert f(2) == 84 and c['k'] == [1, 2, 3] and b.startswith('hello')",
  runs: 5,
};

// 90 MiB of random bytes on top of the interpreter's own ~35 MiB: random, so that neither the delta
// nor gzip can shrink it (the worst case for stored bytes, transfer and wake time). Filled a MiB
// at a time so that the heap holds a single copy: `bytearray(os.urandom(n))` would grow it by two.
const BIG: SessionKind = {
  key: "big",
  label: "session with a 100 MiB heap (90 MiB random bytearray)",
  setup: ["import os", "big = bytearray(90 * 2**20)", "for i in range(0, len(big), 2**20):", "    big[i:i + 2**20] = os.urandom(2**20)", "probe = bytes(big[::2**20])"].join("\n"),
  check: "assert len(big) == 90 * 2**20 and bytes(big[::2**20]) == probe",
  runs: 3,
};

/** One session put to sleep and woken, with where the time went. */
interface Cycle {
  /** From the start of hibernation to the sandbox's process having exited. */
  hibernateMs: number;
  snapshotMs: number;
  /** Delta, gzip and the store's put. */
  persistMs: number;
  snapshotBytes: number;
  storedBytes: number;
  /** From the first cell after hibernation to its result: load, decode, restore, run. */
  wakeMs: number;
  /** Of which the store's get and the decode. */
  loadMs: number;
  /** What the woken sandbox's guest reports its restore took (from its start to ready). */
  restoreGuestMs: number;
  /** Resident memory of the woken sandbox, once it has answered. */
  wokenRssMib: number;
}

// ---------------------------------------------------------------------------------------------
// The snapshot store: Redis when one answers on loopback (as in production), else memory.

export interface BenchSnapshotStore {
  description: string;
  snapshots: SnapshotStore;
  /** Deletes whatever the bench stored, then disconnects. */
  close(): Promise<void>;
}

async function openSnapshotStore(log: Logger): Promise<BenchSnapshotStore> {
  // A prefix of its own: the bench shares Redis with whatever else uses it, and deletes only its keys.
  const prefix = `wasm-repl-bench-${randomBytes(6).toString("hex")}:`;
  const connection = new RedisConnection({ url: REDIS_URL, name: "bench-hibernation", log, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS });
  if (!(await connection.ready(REDIS_WAIT_MS))) {
    await connection.close();
    return { description: `MemorySnapshotStore (no Redis answered at ${REDIS_URL})`, snapshots: new MemorySnapshotStore(), close: async () => {} };
  }
  return {
    description: `Redis at 127.0.0.1:6379 (RedisSnapshotStore), keys under "${prefix}", deleted at the end`,
    snapshots: new RedisSnapshotStore(connection, prefix),
    close: async () => {
      await deleteKeys(connection, prefix).catch(() => {});
      await connection.close();
    },
  };
}

async function deleteKeys(connection: RedisConnection, prefix: string): Promise<void> {
  const keys = await connection.run(async (redis) => {
    const found: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 100 })) found.push(...(batch as string[]));
    return found;
  });
  if (keys.length > 0) await connection.run((redis) => redis.del(...keys));
}

// ---------------------------------------------------------------------------------------------
// Sandboxes: every one the bench starts is killed on the way out, even on process.exit (Ctrl-C).

const held = new Set<Sandbox>();

function killHeld(): void {
  for (const sandbox of held) void sandbox.close(); // sends SIGKILL synchronously
}

function trackedSource(runtime: SandboxRuntime): SandboxSource {
  const track = async (starting: Promise<Sandbox>) => {
    const sandbox = await starting;
    held.add(sandbox);
    void sandbox.exited.then(() => held.delete(sandbox));
    return sandbox;
  };
  // Outside any pool: a pool's background boots would burn CPU under the measurements.
  return { take: () => track(runtime.start()), restore: (snapshot) => track(runtime.restore(snapshot)) };
}

// ---------------------------------------------------------------------------------------------
// One cycle: fill a fresh interpreter, hibernate it, wake it with the check cell.

function since(started: number): number {
  return performance.now() - started;
}

async function runCell(interpreter: Interpreter, code: string): Promise<void> {
  const result = await interpreter.execute({ code, timeoutMs: CELL_TIMEOUT_MS, locals: "none" });
  if (!result.success) throw new Error(`the cell failed: ${result.error?.type}: ${result.error?.message}`);
}

/** A loader that reports how long the store's get and the decode took. */
function timedLoader(load: SnapshotLoader, report: (ms: number) => void): SnapshotLoader {
  return async () => {
    const started = performance.now();
    const snapshot = await load();
    report(since(started));
    return snapshot;
  };
}

async function cycle(kind: SessionKind, source: SandboxSource, hibernator: Hibernator): Promise<Cycle> {
  const interpreter = new Interpreter(source);
  const sessionId = `bench-${kind.key}-${randomBytes(4).toString("hex")}`;
  const stored: { key: string | null } = { key: null };
  try {
    await runCell(interpreter, kind.setup);
    const timing = { snapshotMs: 0, persistMs: 0, snapshotBytes: 0, storedBytes: 0, loadMs: 0 };
    const started = performance.now();
    // The server's own path (Interpreter.hibernate): snapshot, persist, then close the sandbox.
    await interpreter.hibernate(async (snapshot) => {
      timing.snapshotMs = since(started);
      const persistStarted = performance.now();
      const persisted = await hibernator.persist(sessionId, snapshot);
      timing.persistMs = since(persistStarted);
      stored.key = persisted.key;
      timing.snapshotBytes = snapshot.byteLength;
      timing.storedBytes = persisted.bytes;
      return timedLoader(persisted.load, (ms) => (timing.loadMs = ms));
    });
    const hibernateMs = since(started);
    const wakeStarted = performance.now();
    await runCell(interpreter, kind.check);
    const wakeMs = since(wakeStarted);
    const woken = interpreter.live;
    const memory = await woken?.host.memory();
    return { ...timing, hibernateMs, wakeMs, restoreGuestMs: woken?.bootMs ?? 0, wokenRssMib: (memory?.rssBytes ?? 0) / MIB };
  } finally {
    await interpreter.close();
    if (stored.key) await hibernator.delete(stored.key).catch(() => {});
  }
}

/** Every run of a kind, each on a fresh session; a failed run ends that kind's runs and is reported. */
async function cycles(kind: SessionKind, source: SandboxSource, hibernator: Hibernator, progress: Progress): Promise<{ done: Cycle[]; failure: string | null }> {
  const done: Cycle[] = [];
  for (let run = 0; run < kind.runs; run++) {
    progress(`${kind.label}: run ${run + 1} of ${kind.runs}`);
    try {
      done.push(await cycle(kind, source, hibernator));
    } catch (error) {
      return { done, failure: `${kind.label}: run ${run + 1} failed: ${(error as Error).message.split("\n")[0]}` };
    }
  }
  return { done, failure: null };
}

// ---------------------------------------------------------------------------------------------
// Figures.

/** A figure from its runs' values (shared with the capacity part). */
export function figure(key: string, label: string, unit: string, values: number[], better: Figure["better"], decimals: number, extra?: Record<string, number>): Figure {
  return { key, label, unit, summary: summarize(values), better, decimals, ...(extra && { extra }) };
}

function medianOf(done: Cycle[], pick: (cycle: Cycle) => number): number {
  return summarize(done.map(pick)).median;
}

function kindFigures(kind: SessionKind, done: Cycle[]): Figure[] {
  if (done.length === 0) return [];
  const name = kind.key;
  const breakdown = (pick: (cycle: Cycle) => number) => Number(medianOf(done, pick).toFixed(1));
  return [
    figure(`hibernate_${name}_ms`, `hibernate, ${kind.label}: start to sandbox freed`, "ms", done.map((c) => c.hibernateMs), "lower", 0, {
      snapshot_ms: breakdown((c) => c.snapshotMs),
      persist_ms: breakdown((c) => c.persistMs),
      free_ms: breakdown((c) => c.hibernateMs - c.snapshotMs - c.persistMs),
    }),
    figure(`stored_${name}_kib`, `  stored bytes (delta + gzip; raw snapshot ${medianOf(done, (c) => c.snapshotBytes / MIB).toFixed(1)} MiB)`, "KiB", done.map((c) => c.storedBytes / 1024), "lower", 0, {
      snapshot_mib: breakdown((c) => c.snapshotBytes / MIB),
    }),
    figure(`wake_${name}_ms`, `wake, ${kind.label}: load + decode + restore + a cell`, "ms", done.map((c) => c.wakeMs), "lower", 0, {
      load_decode_ms: breakdown((c) => c.loadMs),
      restore_and_cell_ms: breakdown((c) => c.wakeMs - c.loadMs),
      of_which_guest_restore_ms: breakdown((c) => c.restoreGuestMs),
      woken_rss_mib: breakdown((c) => c.wokenRssMib),
    }),
  ];
}

export interface CycleReport {
  figures: Figure[];
  store: string;
  notes: string[];
}

/** Hibernates and wakes small and big sessions, each run on a fresh session. */
export async function measureHibernateWake(log: Logger, progress: Progress): Promise<CycleReport> {
  // The defaults (SESSION_MEMORY_MB 512 among them), not this shell's environment: runs compare.
  const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
  const runtime = await startSandboxRuntime({ cacheDir: config.cacheDir, poolSize: 0, limits: config.sandbox, log });
  const store = await openSnapshotStore(log);
  process.on("exit", killHeld);
  try {
    const base = await readFile(runtime.environment.snapshotPath);
    const hibernator = new Hibernator(store.snapshots, base, config.store.snapshotMaxMb * MIB);
    const source = trackedSource(runtime);
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const kind of [SMALL, BIG]) {
      const { done, failure } = await cycles(kind, source, hibernator, progress);
      figures.push(...kindFigures(kind, done));
      if (failure) notes.push(failure);
    }
    return { figures, store: store.description, notes };
  } finally {
    killHeld();
    await store.close();
    await runtime.close();
    process.off("exit", killHeld);
  }
}
