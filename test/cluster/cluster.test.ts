// Many pods, one truth: three servers share one Redis behind haproxy with `balance roundrobin`,
// the worst case for stickiness. Whichever pod a connection lands on, the session is the same;
// a pod stopped with SIGTERM hands its sessions on without losing a variable; a pod killed
// outright gives back what it checkpointed and says session_lost, at once, for the rest.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { ReplSession, WasmReplError, type ErrorBody, type ServerFrame, type SessionFrame } from "../../client/index.ts";
import { PROTOCOL } from "../../protocol/index.ts";
import { startCluster, type Cluster } from "../helpers/cluster.ts";

/**
 * A drain ends by itself (each of its waits has a deadline); only a hung one reaches this. How
 * long a drain takes depends on the machine's load: it is a benchmark figure (bench/drain.ts).
 */
const DRAIN_HANG_GUARD_MS = 120_000;
const CHECKPOINT_AFTER_MS = 1000;
const HEARTBEAT_TTL_MS = 2000;

const cluster: Cluster = await startCluster();

/** The promise's value, or a failure naming `what` once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  if (error instanceof WasmReplError) return `${error.code}${error.status ? ` (HTTP ${error.status})` : ""}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Ends the sessions a test opened, without letting a failure here hide the test's own. */
async function closeAll(sessions: ReplSession[]): Promise<void> {
  await Promise.all(
    sessions.map(async (session) => {
      try {
        await within(session.close(), 10_000, `closing session ${session.id}`);
      } catch {
        session.disconnect();
      }
    }),
  );
}

/** POST /execute through haproxy. */
async function postExecute(token: string, body: Record<string, unknown>): Promise<{ status: number; servedBy: string | null; json: Record<string, unknown> }> {
  const response = await fetch(`${cluster.url}/execute`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, servedBy: response.headers.get("x-served-by"), json: (await response.json()) as Record<string, unknown> };
}

/** Connections haproxy has given each pod so far. */
async function connectionsPerPod(): Promise<Map<string, number>> {
  return new Map((await cluster.proxyStats()).filter((server) => !server.name.endsWith("-fallback")).map((server) => [server.name, server.total]));
}

/** A bare WebSocket attach, to read the `session` frame the SDK keeps to itself. */
interface RawAttach {
  welcome: SessionFrame;
  socket: WebSocket;
  /** The next frame matching, waiting up to timeoutMs. */
  next(predicate: (frame: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
}

function rawAttach(path: string, token: string): Promise<RawAttach> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(cluster.url.replace(/^http/, "ws") + path, [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
    const frames: ServerFrame[] = [];
    const waiters: Array<{ predicate: (frame: ServerFrame) => boolean; resolve: (frame: ServerFrame) => void }> = [];
    socket.on("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        socket.terminate();
        let parsed: ErrorBody | null = null;
        try {
          parsed = JSON.parse(body) as ErrorBody;
        } catch {
          // not JSON: reported as it is
        }
        reject(new WasmReplError(parsed?.code ?? "internal", parsed?.message ?? body.slice(0, 300), response.statusCode));
      });
    });
    socket.on("error", (error) => reject(error));
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      if (frame.type === "session") {
        resolve({
          welcome: frame,
          socket,
          next: (predicate, timeoutMs = 15_000) => {
            const seen = frames.findIndex(predicate);
            if (seen >= 0) return Promise.resolve(frames.splice(seen, 1)[0]!);
            return within(new Promise<ServerFrame>((found) => waiters.push({ predicate, resolve: found })), timeoutMs, "waiting for a frame");
          },
        });
        return;
      }
      const waiter = waiters.findIndex((candidate) => candidate.predicate(frame));
      if (waiter >= 0) waiters.splice(waiter, 1)[0]!.resolve(frame);
      else frames.push(frame);
    });
  });
}

test("a session opened through haproxy keeps its variables whichever pod later connections land on", { timeout: 90_000 }, async () => {
  await cluster.ensureAllUp();
  const token = await cluster.token("alice");
  const opener = await within(ReplSession.open(cluster.url, { token }), 20_000, "opening a session through haproxy");
  const sessions = [opener];
  try {
    assert.equal((await opener.execute("x = 41\ncounter = 0")).success, true);
    const owner = (await cluster.record(opener.id))?.pod;
    assert.ok(owner, "the session's record names the pod that holds it");

    const before = await connectionsPerPod();
    for (let attempt = 1; attempt <= 6; attempt++) {
      const attached = await within(ReplSession.attach(cluster.url, opener.id, { token, reconnect: false }), 15_000, `attach ${attempt}`).catch((error: unknown) => {
        assert.fail(`attach ${attempt} through haproxy was refused: ${describe(error)}`);
      });
      sessions.push(attached);
      const result = await within(attached.execute("counter += 1\nx + 1"), 15_000, `a cell on attach ${attempt}`);
      assert.equal(result.success, true, `attach ${attempt}: ${result.error?.type}: ${result.error?.message}`);
      assert.equal(result.value, "42", `attach ${attempt} sees x = 41`);
    }
    const after = await connectionsPerPod();
    for (const pod of cluster.pods) {
      assert.ok((after.get(pod.name) ?? 0) > (before.get(pod.name) ?? 0), `round robin sent at least one of the six attaches to ${pod.name}: ${JSON.stringify([...after])}`);
    }

    const servedBy = new Set<string>();
    for (let request = 1; request <= 6; request++) {
      const { status, servedBy: pod, json } = await postExecute(token, { code: "counter += 1\nx + 1", session_id: opener.id });
      assert.equal(status, 200, `POST /execute ${request} (landed on ${pod}): ${JSON.stringify(json)}`);
      assert.equal(json.success, true, `POST /execute ${request}: ${JSON.stringify(json.error)}`);
      assert.equal(json.value, "42");
      if (pod) servedBy.add(pod);
    }
    assert.ok(servedBy.size >= 2, `the POSTs landed on more than one pod: ${[...servedBy].join(", ")}`);

    // Every connection ran in the one interpreter, which never left its pod.
    const total = await opener.execute("counter");
    assert.equal(total.value, "12", "six attaches and six POSTs each incremented the one counter");
    assert.equal((await cluster.record(opener.id))?.pod, owner, "the session stayed on its pod: other pods forwarded to it");
  } finally {
    for (const attached of sessions.slice(1)) attached.disconnect();
    await closeAll([opener]);
  }
});

interface LoopingClient {
  session: ReplSession;
  /** Increments the server confirmed, in order. */
  count: number;
  errors: string[];
  events: string[];
  reconnected: number;
  closed: boolean;
  /** The longest a cell took, from sending it to its result (a move stalls a cell). */
  longestWaitMs: number;
  loop: Promise<void>;
}

test("stateless /execute through haproxy, four clients at once, keeps every pod ready: none goes down, every request is answered", { timeout: 180_000 }, async () => {
  await cluster.ensureAllUp();
  const token = await cluster.token("loader");
  // haproxy checks GET /ready every 500 ms and takes a pod out after 3 failures.
  const notUp: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const server of await cluster.proxyStats()) if (!server.name.endsWith("-fallback") && server.status !== "UP") notUp.push(`${server.name} ${server.status}`);
      await sleep(100);
    }
  })();
  const answers = await Promise.all(
    Array.from({ length: 4 }, async (_, client) => {
      const statuses: string[] = [];
      for (let request = 0; request < 12; request++) {
        const response = await fetch(`${cluster.url}/execute`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ code: `${client} * ${request}` }),
        });
        const body = (await response.json().catch(() => null)) as { value?: string } | null;
        statuses.push(response.status === 200 && body?.value === String(client * request) ? "ok" : `${response.status} ${JSON.stringify(body)?.slice(0, 200)}`);
      }
      return statuses;
    }),
  );
  sampling = false;
  await sampler;
  assert.deepEqual([...new Set(notUp)], [], "haproxy took a pod out while it served stateless requests");
  assert.deepEqual(answers.flat().filter((status) => status !== "ok"), [], "every request got its answer");
});

test("with 20 clients running cells, SIGTERM to one pod loses no session and no variable", { timeout: 300_000 }, async (t) => {
  await cluster.ensureAllUp();
  const token = await cluster.token("bob");
  const clients: LoopingClient[] = [];
  let running = true;

  // A cell that takes longer than this hangs: a cell sent as the drain starts may wait for the
  // whole drain and then for the session to wake on another pod.
  const CELL_HANG_MS = DRAIN_HANG_GUARD_MS + 20_000;
  const loop = async (client: LoopingClient) => {
    let last = performance.now();
    while (running) {
      try {
        const result = await within(client.session.execute("n += 1\nn", { locals: "none" }), CELL_HANG_MS, `cell ${client.count + 1}`);
        if (!result.success) {
          client.errors.push(`cell ${client.count + 1} failed: ${result.error?.type}: ${result.error?.message}`);
          return;
        }
        client.count++;
        if (result.value !== String(client.count)) {
          client.errors.push(`after ${client.count} increments n was ${result.value} (a cell lost or run twice)`);
          return;
        }
      } catch (error) {
        client.errors.push(`cell ${client.count + 1} rejected: ${describe(error)}`);
        return;
      }
      client.longestWaitMs = Math.max(client.longestWaitMs, performance.now() - last);
      await sleep(50);
      last = performance.now();
    }
  };

  try {
    // Opened a few at a time through haproxy: round robin spreads them over the pods.
    const openingStarted = performance.now();
    for (let batch = 0; batch < 20; batch += 4) {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const session = await within(ReplSession.open(cluster.url, { token }), 30_000, "opening a session");
          const client: LoopingClient = { session, count: 0, errors: [], events: [], reconnected: 0, closed: false, longestWaitMs: 0, loop: Promise.resolve() };
          clients.push(client);
          const events = session;
          events.on("reconnecting", (attempt: number) => client.events.push(`reconnecting ${attempt}`));
          events.on("reconnected", () => (client.reconnected++, client.events.push("reconnected")));
          events.on("moving", () => client.events.push("moving"));
          events.on("evicted", (reason: string) => client.events.push(`evicted ${reason}`));
          events.on("closed", (error: WasmReplError | null) => ((client.closed = true), client.events.push(`closed ${error ? describe(error) : "cleanly"}`)));
          const setup = await session.execute("n = 0");
          assert.equal(setup.success, true);
        }),
      );
    }
    t.diagnostic(`opened ${clients.length} sessions in ${Math.round(performance.now() - openingStarted)} ms`);
    for (const client of clients) client.loop = loop(client);
    await sleep(1000);

    const ids = clients.map((client) => client.session.id);
    const owners = await cluster.owners(ids);
    const held = new Map<string, number>();
    for (const pod of owners.values()) if (pod) held.set(pod, (held.get(pod) ?? 0) + 1);
    const [victimName, victimHeld] = [...held].sort((a, b) => b[1] - a[1])[0]!;
    const victim = cluster.pod(victimName);
    const moving = clients.filter((client) => owners.get(client.session.id) === victimName);
    assert.ok(victimHeld >= 2, `the sessions spread over the pods: ${JSON.stringify([...held])}`);
    for (const client of clients) assert.deepEqual(client.errors, [], `before the SIGTERM, session ${client.session.id}`);

    // While the victim drains, its readiness must fail (haproxy stops sending it connections).
    let sawNotReady = false;
    const readiness = (async () => {
      while (victim.alive) {
        try {
          const response = await fetch(`${victim.url}/ready`, { signal: AbortSignal.timeout(1000) });
          if (response.status !== 200) sawNotReady = true;
        } catch {
          sawNotReady = true; // no longer listening: not ready either
        }
        await sleep(50);
      }
    })();
    const exit = await victim.kill("SIGTERM", DRAIN_HANG_GUARD_MS);
    await readiness;
    const countsAtExit = clients.map((client) => client.count);
    assert.equal(exit.killedAfterTimeout, false, `${victimName} exited by itself after SIGTERM`);
    assert.equal(exit.code, 0, `${victimName} exited with 0 (signal ${exit.signal}); the end of its output:\n${victim.text.slice(-2000)}`);
    assert.ok(sawNotReady, `${victimName} turned not-ready while draining`);

    // Every loop goes on: the moved sessions wake on the other pods.
    const deadline = Date.now() + 30_000;
    const progressed = () => clients.every((client, index) => client.errors.length > 0 || client.count >= countsAtExit[index]! + 5);
    while (!progressed() && Date.now() < deadline) await sleep(100);
    running = false;
    await within(Promise.all(clients.map((client) => client.loop)), CELL_HANG_MS + 5000, "the loops ending");

    const report = (client: LoopingClient) =>
      `session ${client.session.id} (${moving.includes(client) ? `moved off ${victimName}` : `on ${owners.get(client.session.id)}`}): ${client.count} increments, longest cell ${Math.round(client.longestWaitMs)} ms; errors ${JSON.stringify(client.errors)}; events ${JSON.stringify(client.events)}`;
    const problems = clients.flatMap((client, index) => {
      const found: string[] = [];
      if (client.errors.length > 0) found.push("a cell failed");
      else if (client.count < countsAtExit[index]! + 5) found.push("its loop stalled after the SIGTERM");
      if (client.closed) found.push("the client gave up on its session");
      if (moving.includes(client) && client.reconnected === 0) found.push("it never reconnected");
      return found.length > 0 ? [`${found.join(", ")}: ${report(client)}`] : [];
    });
    // No variable was lost: each final counter is the number of increments the client saw.
    await Promise.all(
      clients
        .filter((client) => client.errors.length === 0 && !client.closed)
        .map(async (client) => {
          try {
            const final = await within(client.session.execute("n"), 15_000, "reading n");
            if (final.value !== String(client.count)) problems.push(`n is ${final.value}, not ${client.count}: ${report(client)}`);
          } catch (error) {
            problems.push(`reading n failed (${describe(error)}): ${report(client)}`);
          }
        }),
    );
    t.diagnostic(`${victimName} held ${moving.length} of ${clients.length} sessions; it exited ${exit.code} ${Math.round(exit.ms)} ms after SIGTERM; cells per client: ${clients.map((client) => client.count).join(" ")}; longest cell of a moved session: ${Math.round(Math.max(0, ...moving.map((client) => client.longestWaitMs)))} ms`);
    assert.equal(problems.length, 0, `${problems.length} of ${clients.length} clients had trouble:\n${problems.join("\n")}`);
    const after = await cluster.owners(ids);
    for (const [id, pod] of after) {
      assert.ok(pod !== null && pod !== victimName, `session ${id} is held by a running pod now (record names ${pod})`);
    }
  } finally {
    running = false;
    await Promise.race([Promise.all(clients.map((client) => client.loop)), sleep(5000)]);
    await closeAll(clients.map((client) => client.session));
  }
});

test("SIGKILL of a pod returns checkpointed sessions and answers session_lost for the rest, never hanging a client", { timeout: 90_000 }, async (t) => {
  await cluster.ensureAllUp();
  const token = await cluster.token("carol");
  const sessions: ReplSession[] = [];
  const open = async () => {
    const session = await within(ReplSession.open(cluster.url, { token }), 20_000, "opening a session through haproxy");
    sessions.push(session);
    return session;
  };
  try {
    // Through haproxy until one pod holds two sessions: that pod is the one to kill.
    const byPod = new Map<string, ReplSession[]>();
    let doomedName = "";
    while (!doomedName) {
      assert.ok(sessions.length < 8, "round robin put two sessions on one pod");
      const session = await open();
      const pod = (await cluster.record(session.id))?.pod;
      assert.ok(pod, `the record of ${session.id} names its pod`);
      byPod.set(pod, [...(byPod.get(pod) ?? []), session]);
      if (byPod.get(pod)!.length === 2) doomedName = pod;
    }
    const doomed = cluster.pod(doomedName);
    // quiet: ran cells, went idle (checkpointed), and its client left; a later attach brings it back.
    // watched: ran cells, went idle (checkpointed); its client stays connected through the kill.
    const [quiet, watched] = byPod.get(doomedName)!;
    const bystander = [...byPod].find(([pod]) => pod !== doomedName)?.[1][0];
    assert.ok(quiet && watched && bystander);
    await quiet.execute("a = 1");
    assert.equal((await quiet.execute("a += 1\nb = 'quiet'")).execution_count, 2);
    await watched.execute("w = 10");
    assert.equal((await watched.execute("w *= 3")).execution_count, 2);
    assert.equal((await bystander.execute("y = 'unaffected'")).success, true);
    quiet.disconnect();

    const watchedEvents: string[] = [];
    const watchedSettled = new Promise<string>((resolve) => {
      const events = watched;
      events.on("reconnecting", (attempt) => watchedEvents.push(`reconnecting ${attempt}`));
      events.on("restored", (count) => watchedEvents.push(`restored ${count}`));
      events.on("reconnected", () => (watchedEvents.push("reconnected"), resolve("reconnected")));
      events.on("closed", (error: WasmReplError | null) => (watchedEvents.push(`closed ${error ? describe(error) : "cleanly"}`), resolve(`closed: ${error ? describe(error) : "cleanly"}`)));
    });

    // busy: its first cell is still running at the kill, so it was never idle after a cell and has
    // no checkpoint. Its first cell goes out the moment it opens (never idle for CHECKPOINT_AFTER
    // before it either); round robin reaches the doomed pod within three opens.
    let busy: ReplSession | null = null;
    let busyCell: Promise<unknown> | null = null;
    let started: Promise<void> | null = null;
    for (let attempt = 0; attempt < 4 && !busy; attempt++) {
      const candidate = await open();
      let markStarted!: () => void;
      const cellStarted = new Promise<void>((resolve) => (markStarted = resolve));
      const cell = candidate.execute("print('started', flush=True)\nimport time\ntime.sleep(30)\n'finished'", { onStdout: () => markStarted() });
      cell.catch(() => {}); // observed below, for the one on the doomed pod
      if ((await cluster.record(candidate.id))?.pod === doomedName) {
        busy = candidate;
        busyCell = cell;
        started = cellStarted;
      } else {
        candidate.interrupt();
      }
    }
    assert.ok(busy && busyCell && started, `a session whose first cell runs landed on ${doomedName}`);
    await within(started, 10_000, "the busy session's first cell starting");

    // Both idle sessions are checkpointed within CHECKPOINT_AFTER (waited for generously).
    const checkpointDeadline = Date.now() + CHECKPOINT_AFTER_MS + 5000;
    while (Date.now() < checkpointDeadline) {
      const records = await Promise.all([quiet.id, watched.id].map((id) => cluster.record(id)));
      if (records.every((record) => record?.snapshotKey)) break;
      await sleep(100);
    }
    await sleep(CHECKPOINT_AFTER_MS / 2);

    let busySettledAt: number | null = null;
    const busyOutcome = busyCell.then(
      (result) => `resolved: ${JSON.stringify(result)}`,
      (error: unknown) => error,
    ).finally(() => (busySettledAt = Date.now()));
    const killedAt = Date.now();
    const exit = await doomed.kill("SIGKILL");
    assert.equal(exit.signal, "SIGKILL");

    // Its heartbeat expires; then an attach is answered at once, on whichever pod it lands.
    await sleep(Math.max(0, killedAt + HEARTBEAT_TTL_MS + 1000 - Date.now()));

    let startedAt = performance.now();
    const restored = await within(rawAttach(`/v1/sessions/${quiet.id}`, token), 5000, "attaching to the checkpointed session").catch((error: unknown) => {
      assert.fail(`the checkpointed session did not come back: ${describe(error)}`);
    });
    assert.ok(performance.now() - startedAt < 5000);
    assert.deepEqual(restored.welcome.restored_from_checkpoint, { execution_count: 2 }, `the session frame says where it came back from: ${JSON.stringify(restored.welcome)}`);
    restored.socket.send(JSON.stringify({ type: "execute", id: "check", code: "a, b" }));
    const check = await restored.next((frame) => frame.type === "result" || (frame.type === "error" && frame.id === "check"));
    assert.equal(check.type, "result", JSON.stringify(check));
    assert.equal(check.type === "result" && check.value, "(2, 'quiet')", "its variables are back");
    assert.equal(check.type === "result" && check.execution_count, 3, "it continues from its checkpoint");
    restored.socket.send(JSON.stringify({ type: "close" }));
    restored.socket.close();

    startedAt = performance.now();
    await assert.rejects(within(ReplSession.attach(cluster.url, busy.id, { token, reconnect: false }), 5000, "attaching to the session without a checkpoint"), (error: unknown) => {
      assert.ok(error instanceof WasmReplError, describe(error));
      assert.equal(error.code, "session_lost", describe(error));
      assert.equal(error.status, 410);
      return true;
    });
    assert.ok(performance.now() - startedAt < 3000, "session_lost is answered at once");

    // The clients that were connected to the killed pod settle by themselves, well within 15 s.
    const outcome = await within(busyOutcome, Math.max(1000, killedAt + 15_000 - Date.now()), "the busy client's pending cell settling");
    assert.ok(outcome instanceof WasmReplError, `the cell running at the kill cannot have a result: ${describe(outcome)}`);
    assert.equal(outcome.code, "session_lost", `its client is told the session is lost: ${describe(outcome)}`);
    const watchedOutcome = await within(watchedSettled, Math.max(1000, killedAt + 15_000 - Date.now()), `the watching client reconnecting (events: ${JSON.stringify(watchedEvents)})`);
    assert.equal(watchedOutcome, "reconnected", `the watching client follows its session: ${JSON.stringify(watchedEvents)}`);
    const watchedCheck = await within(watched.execute("w"), 10_000, "a cell on the restored session");
    assert.equal(watchedCheck.value, "30");
    assert.equal(watchedCheck.execution_count, 3);

    // Sessions on the other pods never noticed.
    assert.equal((await within(bystander.execute("y"), 10_000, "a cell on a bystander session")).value, "'unaffected'");
    t.diagnostic(`killed ${doomedName}; the watching client's events: ${JSON.stringify(watchedEvents)}; the busy client settled ${Math.round(busySettledAt! - killedAt)} ms after the kill`);
  } finally {
    await closeAll(sessions);
  }
});
