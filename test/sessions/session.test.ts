// A Session driven directly, as a door drives it: its commands, and the typed events it delivers
// to the attachments of its doors, on a real interpreter, with a clock the test moves.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Identity } from "../../server/auth/identity.ts";
import { LlmService } from "../../server/llm/service.ts";
import { loadConfig } from "../../server/config.ts";
import { silentLogger } from "../../server/log.ts";
import { Metrics } from "../../server/metrics.ts";
import { Interpreter } from "../../server/sandbox/interpreter.ts";
import { BufferBudget } from "../../server/sessions/buffers.ts";
import type { SessionEvent } from "../../server/sessions/events.ts";
import { Session, type Attachment } from "../../server/sessions/session.ts";
import { TenantQuotas } from "../../server/tenancy/quotas.ts";
import type { SessionLimits } from "../../protocol/index.ts";
import { sessionLimits } from "../helpers/registry.ts";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import { ManualClock } from "../store/manual-clock.ts";

const config = loadConfig({ CACHE_DIR: process.env.CACHE_DIR });
const runtime = await startTestRuntime({ poolSize: 2 });
const owner = { tenant: "acme", user: "alice" };
const caller: Identity = { ...owner, scopes: new Set(), limits: {}, expiresAt: Date.now() + 3600_000 };

function newSession(options: { limits?: Partial<SessionLimits>; maxRunning?: number; toolClientTimeoutMs?: number } = {}) {
  const clock = new ManualClock();
  const metrics = new Metrics({ tenants: [], models: [] });
  const quotas = new TenantQuotas({ maxSessions: 10, maxRunning: options.maxRunning ?? 10, openRate: 100 }, clock);
  const ended: string[] = [];
  const made = new Session("s1", owner, {
    interpreter: new Interpreter(runtime.sourceFor(owner)),
    gate: quotas.cellGate(owner.tenant, quotas.limitsFor(caller)),
    llm: new LlmService(config.llm, metrics, runtime, 30_000).forSession(owner),
    settings: { limits: sessionLimits(options.limits), logCode: false, buffers: new BufferBudget(config.server.buffers), toolClientTimeoutMs: options.toolClientTimeoutMs ?? 30_000 },
    clock,
    log: silentLogger,
    metrics,
    onEnded: (_session, reason) => ended.push(reason),
  });
  return { session: made, clock, ended };
}

/** An attachment that keeps what it is delivered, and resolves when an event matches. */
function door() {
  const events: SessionEvent[] = [];
  const waiters: Array<{ match: (event: SessionEvent) => boolean; resolve: (event: SessionEvent) => void }> = [];
  const attachment: Attachment = {
    deliver(event) {
      events.push(event);
      for (const waiter of waiters.splice(0)) (waiter.match(event) ? waiter.resolve(event) : waiters.push(waiter));
    },
  };
  const next = (match: (event: SessionEvent) => boolean) =>
    new Promise<SessionEvent>((resolve) => {
      const seen = events.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { attachment, events, ended: (id: string) => next((event) => (event.type === "result" || event.type === "error") && event.id === id) };
}

test("a cell is queued, starts, streams and ends as typed events; only output and ends get a seq", async () => {
  const { session } = newSession();
  const one = door();
  const welcome = session.attach(one.attachment, null);
  assert.equal(welcome.lastSeq, 0);
  session.execute("c1", "print('hi')\n6 * 7", undefined, "none");
  await one.ended("c1");
  assert.deepEqual(
    one.events.map((event) => [event.type, "seq" in event ? event.seq : null]),
    [["queued", null], ["started", null], ["stream", 1], ["result", 2]],
  );
  const result = one.events.at(-1)!;
  assert.ok(result.type === "result" && result.kind === "execute" && result.result.value === "42");
  await session.end("closed");
});

test("a door that attaches later is replayed the recorded events after its seq, as events", async () => {
  const { session } = newSession();
  const first = door();
  session.attach(first.attachment, null);
  session.execute("c1", "print('a')", undefined, "none");
  session.execute("c2", "print('b')", undefined, "none");
  await first.ended("c2");
  const late = session.attach(door().attachment, 2);
  assert.deepEqual(late.replay.map((event) => [event.type, event.seq]), [["stream", 3], ["result", 4]]);
  assert.equal(late.gap, null);
  const ahead = session.attach(door().attachment, 99);
  assert.deepEqual(ahead.gap, { kind: "restarted", since: 99 });
  await session.end("closed");
});

test("past the replay buffer, a late door is told which seqs are gone", async () => {
  const { session } = newSession({ limits: { replay_buffer_bytes: 600 } });
  const one = door();
  session.attach(one.attachment, null);
  session.execute("c1", "for i in range(20): print('x' * 50, flush=True)", undefined, "none");
  await one.ended("c1");
  const late = session.attach(door().attachment, 0);
  assert.equal(late.gap?.kind, "dropped");
  assert.ok(late.gap.kind === "dropped" && late.gap.from === 1 && late.gap.to >= 1);
  assert.equal(late.replay.at(-1)?.type, "result", "the newest event is kept whatever its size");
  await session.end("closed");
});

test("work beyond MAX_QUEUED_CELLS is refused busy; a queued cell can be cancelled; an unknown id is the caller's problem alone", async () => {
  const { session } = newSession({ limits: { max_queued_cells: 1 } });
  const one = door();
  session.attach(one.attachment, null);
  session.execute("slow", "import time\ntime.sleep(0.5)", undefined, "none");
  await new Promise((resolve) => setImmediate(resolve));
  session.execute("queued", "1", undefined, "none");
  session.execute("over", "1", undefined, "none");
  const over = await one.ended("over");
  assert.ok(over.type === "error" && over.code === "busy" && /MAX_QUEUED_CELLS/.test(over.message));
  assert.equal(session.interrupt("queued"), null);
  const cancelled = await one.ended("queued");
  assert.ok(cancelled.type === "result" && cancelled.result.error?.type === "CancelledError");
  const before = one.events.length;
  assert.match(session.interrupt("nobody") ?? "", /no queued or running cell has id "nobody"/);
  assert.equal(one.events.length, before, "nothing is published for an unknown id");
  await one.ended("slow");
  await session.end("closed");
});

test("a cell over the tenant's running quota is refused without starting", async () => {
  const { session } = newSession({ maxRunning: 0 });
  const one = door();
  session.attach(one.attachment, null);
  session.execute("c1", "1", undefined, "none");
  const refused = await one.ended("c1");
  assert.ok(refused.type === "error" && refused.code === "quota_exceeded" && /TENANT_MAX_RUNNING/.test(refused.message));
  assert.equal(one.events.some((event) => event.type === "started"), false);
  await session.end("closed");
});

test("a draining session refuses queued and new work with server_draining; a running cell goes on", async () => {
  const { session } = newSession();
  const one = door();
  session.attach(one.attachment, null);
  session.execute("running", "import time\ntime.sleep(0.3)\n'done'", undefined, "none");
  session.execute("queued", "1", undefined, "none");
  await new Promise((resolve) => setImmediate(resolve));
  session.drain();
  session.execute("new", "1", undefined, "none");
  for (const id of ["queued", "new"]) {
    const refused = await one.ended(id);
    assert.ok(refused.type === "error" && refused.code === "server_draining", id);
  }
  const ran = await one.ended("running");
  assert.ok(ran.type === "result" && ran.result.value === "'done'");
  await session.end("closed");
});

test("run() answers its caller with the outcome; ending lets go of every door with one evicted event", async () => {
  const { session, clock, ended } = newSession();
  const one = door();
  session.attach(one.attachment, null);
  const outcome = await session.run("x + 1", undefined, { x: 41 });
  assert.ok("result" in outcome && outcome.result.value === "42");
  clock.advance(5000);
  assert.equal(session.idleSince(), session.lastActiveAt);
  await session.end("idle");
  assert.deepEqual(ended, ["idle"]);
  const last = one.events.at(-1)!;
  assert.ok(last.type === "evicted" && last.reason === "idle" && last.resumable === false);
  const count = one.events.length;
  session.execute("after", "1", undefined, "none");
  assert.equal(one.events.length, count, "an ended session takes no work and delivers nothing");
  assert.equal(session.attached, 0);
});

test("rich output and input() are events; the answer comes back through the session; introspection records nothing", async () => {
  const { session } = newSession();
  const one = door();
  session.attach(one.attachment, null);
  session.execute("c1", "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))\nname = input('who? ')\nname", undefined, "none");
  const asked = await new Promise<SessionEvent>((resolve) => {
    const poll = () => {
      const found = one.events.find((event) => event.type === "input_request");
      if (found) resolve(found);
      else setImmediate(poll);
    };
    poll();
  });
  assert.ok(asked.type === "input_request" && asked.prompt === "who? " && asked.password === false);
  assert.match(session.input("other", "x") ?? "", /no cell with id "other" is waiting for input/);
  assert.equal(session.input("c1", "ada"), null);
  const result = await one.ended("c1");
  assert.ok(result.type === "result" && result.result.value === "'ada'");
  const display = one.events.find((event) => event.type === "display");
  assert.ok(display?.type === "display" && display.data["text/html"] === "<b>hi</b>");
  const seqs = one.events.flatMap((event) => ("seq" in event ? [event.type] : []));
  assert.deepEqual(seqs, ["display", "input_request", "result"], "display before input, both before the result, all recorded");
  const before = one.events.length;
  const completion = await session.introspect({ kind: "complete", code: "nam", cursor: 3 });
  assert.ok("reply" in completion && completion.reply.kind === "complete" && completion.reply.matches.includes("name"));
  assert.equal(one.events.length, before, "introspection delivers no events");
  assert.deepEqual(session.inputs().map((input) => input.code.split("\n")[0]), ["from IPython.display import display, HTML"]);
  await session.end("closed");
  const late = await session.introspect({ kind: "is_complete", code: "x" });
  assert.ok("error" in late && late.error.code === "session_expired");
});

test("the execution count is the interpreter's: it starts again after a reset", async () => {
  const { session } = newSession();
  const { attachment, ended } = door();
  session.attach(attachment, null);
  session.execute("a", "x = 1", undefined, "none");
  session.execute("b", "x + 1", undefined, "none");
  await ended("b");
  assert.equal(session.executionCount, 2);
  session.reset("r");
  await ended("r");
  assert.equal(session.executionCount, 0);
  session.execute("c", "1", undefined, "none");
  const first = await ended("c");
  assert.equal(first.type === "result" && first.result.execution_count, 1);
  assert.equal(session.executionCount, 1);
  await session.end("closed");
});

test("an interrupt that comes before the interpreter has taken the cell still interrupts it", async () => {
  const { session } = newSession();
  const one = door();
  session.attach(one.attachment, null);
  session.execute("c1", "import time\ntime.sleep(3)\n'ran to its end'", undefined, "none");
  // The same turn: the cell has started (it left the queue) but waits for its interpreter.
  assert.equal(session.interrupt("c1"), null);
  const result = await one.ended("c1");
  assert.ok(result.type === "result" && result.result.error?.type === "KeyboardInterrupt", JSON.stringify(result));
  const next = (session.execute("c2", "1 + 1", undefined, "none"), await one.ended("c2"));
  assert.ok(next.type === "result" && next.result.value === "2", "the interrupt was the first cell's alone");
  await session.end("closed");
});
