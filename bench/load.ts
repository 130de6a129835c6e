// How long a bench ran and how much CPU other processes (tests, builds) took from it meanwhile:
// printed beside the figures, so that a reader knows how much noise to expect in them.
import { availableParallelism } from "node:os";
import { machineBusyTicks, ownTreeTicks, ticksToSeconds } from "./processes.ts";

export interface Load {
  cores: number;
  seconds: number;
  /** CPU that processes other than the bench's own used meanwhile, in cores. */
  othersCores: number;
}

/**
 * Runs `work` and measures the load on the machine meanwhile. The servers `work` starts must be
 * stopped and waited for by its end: their CPU then counts as the bench's own, not as others'.
 */
export async function underLoad<T>(work: () => Promise<T>): Promise<{ result: T; load: Load }> {
  const started = performance.now();
  const busyAtStart = await machineBusyTicks();
  const ownAtStart = await ownTreeTicks();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const othersTicks = (await machineBusyTicks()) - busyAtStart - ((await ownTreeTicks()) - ownAtStart);
  return { result, load: { cores: availableParallelism(), seconds, othersCores: Math.max(0, ticksToSeconds(othersTicks) / seconds) } };
}

/** The report's line about the machine. */
export function loadLine(load: Load): string {
  const busy = load.othersCores > 0.1 ? " (the machine was busy: expect noise)" : "";
  return `${load.cores} cores; other processes used ${load.othersCores.toFixed(2)} cores on average meanwhile${busy}; ${load.seconds.toFixed(0)} s`;
}

/** The same for the JSON line. */
export function loadFields(load: Load): Record<string, number> {
  return { cores: load.cores, other_processes_cores: Number(load.othersCores.toFixed(2)), duration_s: Number(load.seconds.toFixed(1)) };
}
