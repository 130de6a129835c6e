// What the session layer reports, declared here so that sessions depend on no metrics library:
// server/metrics.ts implements it (and imports these label sets from here).
import type { EvictionReason } from "../../protocol/index.ts";
import type { FailureCounter } from "../boundary.ts";

export const CELL_OUTCOMES = ["ok", "error", "timeout", "killed", "cancelled", "refused"] as const;
/**
 * How a cell ended: ok; error (Python raised); timeout (its deadline, state kept); killed (its
 * sandbox was killed or died: state lost); cancelled (interrupted, or dropped before it ran);
 * refused (never ran: busy, quota, a duplicate id, no sandbox to run it).
 */
export type CellOutcome = (typeof CELL_OUTCOMES)[number];

export const HIBERNATION_FAILURES = ["too_large", "unsnapshottable", "store"] as const;
export type HibernationFailure = (typeof HIBERNATION_FAILURES)[number];

/** A store read someone waited on, a write nobody waited on, or the store becoming unreachable. */
export type StoreErrorKind = "read" | "write" | "outage";

export interface SessionCount {
  tenant: string;
  hibernated: boolean;
}

export interface SessionMetrics extends FailureCounter {
  sessionOpened(tenant: string): void;
  sessionEnded(tenant: string, reason: EvictionReason): void;
  cell(tenant: string, outcome: CellOutcome, seconds?: number): void;
  cellStarted(tenant: string, waitedSeconds: number): void;
  hibernated(tenant: string, storedBytes: number): void;
  hibernationFailed(reason: HibernationFailure): void;
  woken(tenant: string): void;
  storeError(kind: StoreErrorKind): void;
  /** The live sessions by tenant, read when scraped. */
  observeSessions(source: () => Iterable<SessionCount>): void;
}
