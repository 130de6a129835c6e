// One client of the soak's load: a session of its own, used the way people use one (short cells,
// cells that stream or run into their timeout, interrupts, large add_context payloads, dropped
// connections, stateless POST /execute, closing and opening sessions, going quiet long enough to
// hibernate), with a counter in the session that tells whether a cell ran once, never or twice.
//
// Every counted cell starts by incrementing `counter` and printing it, so its result's stdout
// says what the counter became. The client knows what it should be: one more than the last value
// it saw, plus at most one for each counted cell whose outcome it never learnt (an error that
// came without a result, no answer). A value above that range is a cell that ran twice; one
// below it is lost work. Either is allowed only when the server said the state changed under
// the client: the session came back from a checkpoint (which may even predate an interpreter
// replaced since), or its interpreter was replaced (`state_preserved: false`).
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ReplSession, WasmReplError, type ResultFrame } from "../../client/index.ts";
import type { CheckRecord, DriverConfig, Finding, FindingKind, RequestKind, RequestRecord } from "./records.ts";

/** Codes that say the session itself is gone for good (reconnecting cannot help). */
const GONE = new Set(["session_lost", "session_not_found", "session_expired"]);
const COUNT = 'counter = globals().get("counter", 0) + 1\nprint(f"@counter {counter}", flush=True)\n';
const COUNTED = /@counter (\d+)/;
/** An active client waits this long between two requests, at random. */
const THINK_MS: [number, number] = [200, 1500];
/** A stream cell prints a line this often, for a number of lines between these. */
const STREAM_LINE_MS = 250;
const STREAM_LINES: [number, number] = [8, 16];
/** Opening or attaching again after a failure: the wait between attempts. */
const RETRY_MS: [number, number] = [300, 2000];
/** Seconds a cell may run, by kind (what the server is told), and the cell that runs past its timeout. */
const TIMEOUT_S = { cell: 10, stream: 30, timeout: 1, interrupt: 40 } as const;
/** How long an open, attach or close may take before it counts as unanswered, besides the slack. */
const CONNECT_S = 15;

/** An active client's next request, by weight. */
const ACTIVE_MIX: Array<[Action, number]> = [
  ["cell", 50],
  ["execute", 15],
  ["stream", 8],
  ["replay", 6],
  ["timeout", 5],
  ["interrupt", 5],
  ["context", 3],
  ["reopen", 3],
  ["quiet", 5],
];
type Action = "cell" | "execute" | "stream" | "replay" | "timeout" | "interrupt" | "context" | "reopen" | "quiet";

/** What the clients record, shared by all of them (the driver sends it to the parent at the end). */
export class Recorder {
  readonly requests: RequestRecord[] = [];
  readonly findings: Finding[] = [];
  readonly checks: CheckRecord[] = [];

  finding(client: number, kind: FindingKind, session: string | null, detail: string): void {
    this.findings.push({ client, kind, at: Date.now(), session, detail });
  }
}

type Answer<T> = { value: T } | { error: unknown } | { unanswered: true };

/** The promise's outcome, or unanswered once `ms` have passed (it may still settle later: ignored). */
async function within<T>(promise: Promise<T>, ms: number): Promise<Answer<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Answer<T>>((resolve) => (timer = setTimeout(() => resolve({ unanswered: true }), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How the SDK words a connection that failed (its code is `internal`, but no server said so). */
const SDK_CONNECTION_FAILURE = /^(cannot connect to|the connection closed|could not reconnect after)/;

/**
 * The error's protocol code; for a connection that failed before any server answered,
 * `connection_failed` (the SDK) or `network_error` (fetch): an answer all the same, an error.
 */
function codeOf(error: unknown): string {
  if (error instanceof WasmReplError) return error.code === "internal" && SDK_CONNECTION_FAILURE.test(error.message) ? "connection_failed" : error.code;
  if (error instanceof TypeError && error.message === "fetch failed") return "network_error";
  return "client_exception";
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

function between([low, high]: [number, number]): number {
  return low + Math.random() * (high - low);
}

function pick(mix: Array<[Action, number]>): Action {
  let roll = Math.random() * mix.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [action, weight] of mix) if ((roll -= weight) < 0) return action;
  return mix[0]![0];
}

export class SoakClient {
  private session: ReplSession | null = null;
  /** The session's id while it lives: kept across a disconnect, to attach again. */
  private sessionId: string | null = null;
  /** What the counter should be now, and how many counted cells may have run unseen since. */
  private expected = 0;
  private unseen = 0;
  /** The server said the session lost work (restored from a checkpoint, interpreter replaced): the next value may be lower. */
  private resetTold = false;
  private cells = 0;
  /** Whether the last counted result was consistent (see account). */
  private lastAccount = true;
  /** The fault whose check this client still owes, or null. */
  private checkFor: number | null = null;
  private stopped = false;
  /** Ends a wait between requests early (a check or the stop came). */
  private wake = new AbortController();
  private readonly quiet: boolean;
  private readonly token: string;

  constructor(
    readonly index: number,
    private readonly config: DriverConfig,
    private readonly recorder: Recorder,
  ) {
    // One client in four is mostly quiet: its session hibernates between its cells and wakes for the next.
    this.quiet = index % 4 === 3;
    this.token = config.tokens[index % config.tokens.length]!;
  }

  /** Opens the client's first session. */
  async start(): Promise<void> {
    while (!this.session && !this.stopped) await this.connect();
  }

  /** Uses the session until stop(); returns once the last request has ended. */
  async run(onChecked: (fault: number) => void): Promise<void> {
    while (!this.stopped) {
      if (!this.session) {
        await this.connect();
        continue;
      }
      if (this.checkFor !== null) {
        const fault = this.checkFor;
        this.checkFor = null;
        await this.check(fault);
        onChecked(fault);
        continue;
      }
      await (this.quiet ? this.quietTurn() : this.activeTurn());
    }
    this.session?.disconnect();
  }

  /** Asks for a counter read at the next turn (waking the client if it waits). */
  requestCheck(fault: number): void {
    this.checkFor = fault;
    this.wake.abort();
  }

  stop(): void {
    this.stopped = true;
    this.wake.abort();
  }

  private async activeTurn(): Promise<void> {
    const action = pick(ACTIVE_MIX);
    if (action === "execute") await this.postExecute();
    else if (action === "context") await this.addContext();
    else if (action === "reopen") await this.reopen();
    else if (action === "quiet") return this.goQuiet(false);
    else await this.counted(action);
    await this.pause(between(THINK_MS));
  }

  /** A cell now and then, quiet long enough in between for the session to hibernate; half the time it leaves and attaches again. */
  private async quietTurn(): Promise<void> {
    await this.counted(Math.random() < 0.3 ? "stream" : "cell");
    await this.goQuiet(Math.random() < 0.5);
  }

  private async goQuiet(leave: boolean): Promise<void> {
    if (leave && this.session) {
      this.session.disconnect();
      this.session = null;
    }
    await this.pause((this.config.hibernateAfterS + between([1, 3])) * 1000);
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopped || this.checkFor !== null) return;
    this.wake = new AbortController();
    await sleep(ms, undefined, { signal: this.wake.signal }).catch(() => {});
  }

  // ---- sessions ----

  /** Attaches to the client's session, or opens one when it has none; records each attempt. */
  private async connect(): Promise<void> {
    const kind: RequestKind = this.sessionId ? "attach" : "open";
    const options = { token: this.token };
    const attempt = this.sessionId ? ReplSession.attach(this.config.url, this.sessionId, options) : ReplSession.open(this.config.url, options);
    const answer = await this.request(kind, CONNECT_S, attempt);
    if ("value" in answer) {
      const fresh = !this.sessionId;
      this.adopt(answer.value);
      if (fresh) this.newCounter();
      return;
    }
    if ("unanswered" in answer) void attempt.then((session) => session.disconnect(), () => {});
    else if (GONE.has(codeOf(answer.error))) this.lose(codeOf(answer.error), messageOf(answer.error));
    await this.pause(between(RETRY_MS));
  }

  private adopt(session: ReplSession): void {
    this.session = session;
    this.sessionId = session.id;
    const restored = (count: number) => {
      this.resetTold = true;
      this.recorder.finding(this.index, "restored", session.id, `restored from its checkpoint at execution count ${count}`);
    };
    // Told at this connection (before open or attach returned), or at a reconnect later.
    if (session.restoredFromCheckpoint !== null) restored(session.restoredFromCheckpoint);
    session.on("restored", restored);
    // The SDK gave up on the session: gone for good, or its reconnects failed (attach again later).
    session.on("closed", (error) => {
      if (this.session !== session) return;
      this.session = null;
      if (error && GONE.has(error.code)) this.lose(error.code, error.message);
    });
  }

  private lose(code: string, message: string): void {
    if (this.sessionId) this.recorder.finding(this.index, "session_lost", this.sessionId, `${code}: ${message.slice(0, 200)}`);
    this.session?.disconnect();
    this.session = null;
    this.sessionId = null;
  }

  private newCounter(): void {
    this.expected = 0;
    this.unseen = 0;
    this.resetTold = false;
  }

  private async reopen(): Promise<void> {
    const session = this.session!;
    // Whatever the answer, the client is done with this session: one whose close was cut off may
    // well be closed, and attaching to it again would take that for a lost session.
    await this.request("close", CONNECT_S, session.close());
    session.disconnect();
    this.session = null;
    this.sessionId = null;
  }

  // ---- requests ----

  /** Runs one request to its end or its deadline, and records it. */
  private async request<T>(kind: RequestKind, timeoutS: number, promise: Promise<T>): Promise<Answer<T>> {
    const sentAt = Date.now();
    const answer = await within(promise, (timeoutS + this.config.deadlineSlackS) * 1000);
    const failed = "error" in answer ? answer.error : null;
    this.recorder.requests.push({
      client: this.index,
      kind,
      sentAt,
      endedAt: "unanswered" in answer ? null : Date.now(),
      code: failed === null ? null : codeOf(failed),
      ...(failed !== null && { message: messageOf(failed) }),
      session: this.sessionId,
    });
    return answer;
  }

  /** A counted cell of the given kind; for "check", the read after a fault. */
  private async counted(kind: "cell" | "stream" | "replay" | "timeout" | "interrupt" | "check", body = "sum(range(100))"): Promise<ResultFrame | null> {
    const session = this.session!;
    const id = `c${this.index}-${++this.cells}`;
    let streamed = "";
    let chunks = 0;
    const lines = Math.round(between(STREAM_LINES));
    const code =
      kind === "stream" || kind === "replay"
        ? `${COUNT}import time\nfor i in range(${lines}):\n    print(f"line {i}", flush=True)\n    time.sleep(${STREAM_LINE_MS / 1000})\n`
        : kind === "timeout" || kind === "interrupt"
          ? `${COUNT}import time\ntime.sleep(30)\n`
          : `${COUNT}${body}`;
    const timeout = kind === "replay" ? TIMEOUT_S.stream : kind === "check" ? TIMEOUT_S.cell : TIMEOUT_S[kind];
    const onStdout = (text: string) => {
      streamed += text;
      chunks++;
      // The marker is the first line: the cell runs now.
      if (chunks === 1 && kind === "interrupt") setTimeout(() => session.interrupt(id), 200);
      if (chunks === 3 && kind === "replay") session.connection?.terminate();
    };
    const answer = await this.request(kind, timeout, session.execute(code, { id, timeout, locals: "none", onStdout }));
    if (!("value" in answer)) {
      this.unseen++;
      if ("unanswered" in answer) {
        session.disconnect();
        if (this.session === session) this.session = null;
      } else if (GONE.has(codeOf(answer.error))) {
        this.lose(codeOf(answer.error), messageOf(answer.error));
      }
      return null;
    }
    const result = answer.value;
    this.lastAccount = this.account(result);
    if ((kind === "stream" || kind === "replay") && streamed !== result.stdout) {
      this.recorder.finding(this.index, "stream_mismatch", session.id, `cell ${id}: received ${JSON.stringify(streamed.slice(-120))} while it ran, its result says ${JSON.stringify(result.stdout.slice(-120))}`);
    }
    return result;
  }

  /**
   * Checks a counted cell's value against what the counter should be: whether it is consistent
   * with every cell having run once at most (and nothing lost the server did not own up to).
   */
  private account(result: ResultFrame): boolean {
    const seen = COUNTED.exec(result.stdout)?.[1];
    const told = this.resetTold || !result.state_preserved;
    // Without the marker it never ran (cancelled, interrupted before it started).
    if (seen === undefined) {
      if (!result.state_preserved) this.resetTold = true;
      return true;
    }
    const value = Number(seen);
    const low = this.expected + 1;
    const high = this.expected + 1 + this.unseen;
    const where = `expected ${low}${high > low ? `..${high}` : ""}, the cell printed ${value}`;
    this.expected = value;
    this.unseen = 0;
    // An interpreter replaced during the cell (it counted in the old one) or before it: the next may start again.
    this.resetTold = !result.state_preserved;
    if (value >= low && value <= high) return true;
    if (told) {
      this.recorder.finding(this.index, "counter_reset_told", this.sessionId, where);
      return true;
    }
    this.recorder.finding(this.index, value > high ? "ran_twice" : "counter_lost", this.sessionId, where);
    return false;
  }

  /** The counter read after a fault. */
  private async check(fault: number): Promise<void> {
    if (!this.session) await this.connect();
    const result = this.session ? await this.counted("check") : null;
    const outcome = !result || !COUNTED.test(result.stdout) ? "unanswered" : this.lastAccount ? "ok" : "wrong";
    this.recorder.checks.push({ client: this.index, fault, outcome, at: Date.now() });
  }

  private async addContext(): Promise<void> {
    const session = this.session!;
    const payload = randomBytes(this.config.contextBytes / 2).toString("hex");
    const digest = createHash("sha256").update(payload).digest("hex").slice(0, 16);
    const added = await this.request("context", TIMEOUT_S.cell, session.addContext(payload, { index: 0 }));
    if (!("value" in added)) {
      if ("unanswered" in added) {
        session.disconnect();
        if (this.session === session) this.session = null;
      } else if (GONE.has(codeOf(added.error))) this.lose(codeOf(added.error), messageOf(added.error));
      return;
    }
    if (!added.value.success || this.session !== session) return;
    const result = await this.counted("cell", "import hashlib\n(len(context_0), hashlib.sha256(context_0.encode()).hexdigest()[:16])");
    const want = `(${payload.length}, '${digest}')`;
    if (result?.success && result.value !== want) this.recorder.finding(this.index, "wrong_value", this.sessionId, `context_0 is ${result.value}, not ${want}`);
  }

  private async postExecute(): Promise<void> {
    const n = Math.floor(Math.random() * 1000);
    const call = (async () => {
      const response = await fetch(`${this.config.url}/execute`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
        body: JSON.stringify({ code: `sum(range(${n}))`, timeout: TIMEOUT_S.cell }),
      });
      const body = (await response.json()) as { success?: boolean; value?: string; code?: string; message?: string };
      if (response.status !== 200) throw new WasmReplError((body.code ?? "internal") as WasmReplError["code"], body.message ?? `HTTP ${response.status}`, response.status);
      return body;
    })();
    const answer = await this.request("execute", TIMEOUT_S.cell, call);
    // A failure (its sandbox crashed, ...) is an answer; a success with another value is wrong.
    if ("value" in answer && answer.value.success && answer.value.value !== String((n * (n - 1)) / 2)) {
      this.recorder.finding(this.index, "wrong_value", null, `POST /execute of sum(range(${n})) answered ${JSON.stringify(answer.value).slice(0, 200)}`);
    }
  }
}
