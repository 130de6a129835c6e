// What the soak's driver (load.ts, a child process) and the process that injects the faults
// (soak.ts) tell each other, and what the driver records of every request: plain JSON, as it
// crosses the IPC channel. Times are Date.now() milliseconds, which both processes share.

/** What a client asks of the cluster; every kind ends in a result, an error, or (a finding) no answer. */
export type RequestKind =
  /** open a session (WebSocket through haproxy) */
  | "open"
  /** attach to its session again after leaving it (an idle client), or after the SDK gave up reconnecting */
  | "attach"
  /** a short cell */
  | "cell"
  /** a cell that streams output for seconds */
  | "stream"
  /** a streaming cell whose connection the client drops midway: the SDK reconnects with ?since= and replays */
  | "replay"
  /** a cell that runs into its timeout */
  | "timeout"
  /** a cell the client interrupts while it runs */
  | "interrupt"
  /** add_context of a few MiB, then a cell that checks it */
  | "context"
  /** the counter read after each fault */
  | "check"
  /** stateless POST /execute */
  | "execute"
  /** closing the session (the client then opens another) */
  | "close";

export interface RequestRecord {
  client: number;
  kind: RequestKind;
  sentAt: number;
  /** null: no answer within the request's deadline. */
  endedAt: number | null;
  /**
   * When it ended in an error: the protocol's code (from a frame, or the body of an HTTP answer),
   * or the client's for a connection that failed (connection_failed, network_error), or
   * client_exception for anything else the client threw (a bug of the soak's).
   */
  code: string | null;
  /** A short text of the error, for the report's examples. */
  message?: string;
  session: string | null;
}

export type FindingKind =
  /** the counter jumped by more than the cells that may have run: a cell ran twice */
  | "ran_twice"
  /** the counter went back without the server saying why (no restored_from_checkpoint, no state_preserved: false) */
  | "counter_lost"
  /** the counter moved otherwise than by one after the server said the state changed: allowed (restored from a checkpoint, an interpreter replaced) */
  | "counter_reset_told"
  /** the output a client received while a cell ran differs from its result's (a replay lost or repeated output) */
  | "stream_mismatch"
  /** a cell's answer was not what it computes (add_context's payload, POST /execute's value) */
  | "wrong_value"
  /** the session came back from a checkpoint (restored_from_checkpoint) */
  | "restored"
  /** the session cannot be reached any more (session_lost, session_not_found, session_expired) */
  | "session_lost";

export interface Finding {
  client: number;
  kind: FindingKind;
  at: number;
  session: string | null;
  detail: string;
}

/** A client's counter read after a fault. */
export interface CheckRecord {
  client: number;
  /** The fault it follows (its index in the schedule). */
  fault: number;
  /** ok: the value the client expects; wrong: another (a finding says why); unanswered: the check itself failed. */
  outcome: "ok" | "wrong" | "unanswered";
  at: number;
}

export interface DriverConfig {
  /** Where clients connect (the cutting proxy in front of haproxy). */
  url: string;
  clients: number;
  /** One token per user; client i uses tokens[i % tokens.length]. */
  tokens: string[];
  /** The servers' HIBERNATE_AFTER: idle clients stay quiet longer than this. */
  hibernateAfterS: number;
  /** Size of an add_context payload. */
  contextBytes: number;
  /** A request unanswered this long after its cell's own timeout counts as unanswered. */
  deadlineSlackS: number;
}

export type ToDriver = { type: "start"; config: DriverConfig } | { type: "check"; fault: number } | { type: "stop" };

export type FromDriver =
  | { type: "ready"; opened: number }
  | { type: "checked"; fault: number }
  | { type: "done"; requests: RequestRecord[]; findings: Finding[]; checks: CheckRecord[] };
