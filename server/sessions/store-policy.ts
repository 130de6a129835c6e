// How the session layer treats its shared store when it fails: a read someone waits on fails
// that request with store_unavailable; a write nobody waits on is logged and counted (the
// resilient store queues it through an outage).
import type { Logger } from "../log.ts";
import type { SessionMetrics } from "./session-metrics.ts";
import { StoreUnavailable } from "../store/store.ts";
import { SessionError } from "./errors.ts";

export class StorePolicy {
  constructor(private readonly reporting: { log: Logger; metrics: SessionMetrics }) {}

  /** A read the caller needs: an unreachable store is the caller's store_unavailable. */
  async read<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof StoreUnavailable) {
        this.reporting.metrics.storeError("read");
        throw new SessionError("store_unavailable", `${error.message}; retry shortly`);
      }
      throw error;
    }
  }

  /** A write nobody waits on: logged and counted when it fails (then undefined), else the store's answer. */
  async write<T>(id: string | null, write: () => Promise<T>): Promise<T | undefined> {
    try {
      return await write();
    } catch (error) {
      this.reporting.log.warn("store_write_failed", { session_id: id, reason: (error as Error).message });
      this.reporting.metrics.storeError("write");
      return undefined;
    }
  }
}
