// GET /metrics as Prometheus scrapes it: counters move as a workload runs, labels stay bounded,
// promtool accepts the output, and METRICS_PORT moves it to a port of its own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { TokenSigner } from "../../server/auth/tokens.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ POOL_SIZE: "1", METRICS_TENANTS: "acme, initech" });
const separate = await startTestServer({ POOL_SIZE: "0", METRICS_PORT: "0" });

/** One scrape: every sample by its name and labels as written, e.g. `wasm_repl_cells_total{tenant="acme",outcome="ok"}`. */
interface Scrape {
  text: string;
  contentType: string | null;
  /** The value of a sample; 0 when it is absent. */
  value(name: string, labels?: Record<string, string>): number;
  has(name: string): boolean;
}

async function scrape(url = server.url): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  // Keyed by the name and its labels in sorted order, whatever order the exposition writes them in.
  const key = (name: string, labels: Record<string, string>) => {
    const pairs = Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([label, value]) => `${label}="${value}"`);
    return pairs.length === 0 ? name : `${name}{${pairs.join(",")}}`;
  };
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const sample = line.slice(0, space);
    const brace = sample.indexOf("{");
    const labels = brace === -1 ? {} : Object.fromEntries([...sample.slice(brace).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1]!, match[2]!]));
    samples.set(key(brace === -1 ? sample : sample.slice(0, brace), labels), Number(line.slice(space + 1)));
  }
  return {
    text,
    contentType: response.headers.get("content-type"),
    value: (name, labels = {}) => samples.get(key(name, labels)) ?? 0,
    has: (name) => [...samples.keys()].some((sample) => sample === name || sample.startsWith(`${name}{`)),
  };
}

test("counters, histograms and gauges move by exactly what a workload does", async () => {
  const before = await scrape();
  assert.match(before.contentType ?? "", /^text\/plain; version=0\.0\.4/);
  const acme = { tenant: "acme" };
  const cells = (outcome: string, scrape: Scrape) => scrape.value("wasm_repl_cells_total", { tenant: "acme", outcome });

  const session = await ReplSession.open(server.url, { token: await server.token() });
  const open = await scrape();
  assert.equal(open.value("wasm_repl_sessions_opened_total", acme) - before.value("wasm_repl_sessions_opened_total", acme), 1);
  assert.equal(open.value("wasm_repl_sessions", { state: "live", tenant: "acme" }), 1);
  assert.equal(open.value("wasm_repl_sessions", { state: "hibernated", tenant: "acme" }), 0);
  assert.equal(open.value("wasm_repl_websocket_connections"), before.value("wasm_repl_websocket_connections") + 1);

  assert.equal((await session.execute("x = 6 * 7")).error, null);
  assert.equal((await session.execute("1 / 0")).error?.type, "ZeroDivisionError");
  assert.equal((await session.execute("import time\ntime.sleep(10)", { timeout: 0.3 })).error?.type, "TimeoutError");
  const refusedToken = await new TokenSigner(randomBytes(32).toString("hex")).sign({ user: "alice", tenant: "acme", scopes: ["sessions:read"] }, 60);
  const refused = await fetch(`${server.url}/v1/sessions`, { headers: { authorization: `Bearer ${refusedToken}` } });
  assert.equal(refused.status, 401);
  const after = await scrape();

  const moved = (name: string, labels?: Record<string, string>) => after.value(name, labels) - open.value(name, labels);
  assert.equal(cells("ok", after) - cells("ok", open), 1);
  assert.equal(cells("error", after) - cells("error", open), 1);
  assert.equal(cells("timeout", after) - cells("timeout", open), 1);
  for (const outcome of ["killed", "cancelled", "refused"]) assert.equal(cells(outcome, after) - cells(outcome, open), 0, outcome);
  assert.equal(moved("wasm_repl_cell_duration_seconds_count", acme), 3);
  assert.equal(moved("wasm_repl_cell_queue_wait_seconds_count", acme), 3);
  // The timeout cell ran for at least its timeout; every cell is within the last bucket.
  assert.ok(moved("wasm_repl_cell_duration_seconds_sum", acme) >= 0.3);
  assert.equal(moved("wasm_repl_cell_duration_seconds_bucket", { tenant: "acme", le: "+Inf" }), 3);
  assert.equal(moved("wasm_repl_auth_failures_total", { reason: "bad_signature" }), 1);
  assert.equal(moved("wasm_repl_websocket_frames_total", { type: "execute", direction: "in" }), 3);
  assert.equal(moved("wasm_repl_websocket_frames_total", { type: "result", direction: "out" }), 3);
  assert.equal(moved("wasm_repl_sandbox_exits_total", { cause: "timeout" }), 0, "the timed-out cell honoured its interrupt");

  // The pool and boot time are there; the pool refills to its size of 1.
  assert.ok(after.has("wasm_repl_pool_available_sandboxes"));
  assert.ok(after.value("wasm_repl_sandbox_boot_seconds_count", { source: "base" }) >= 1);
  assert.ok(after.has("wasm_repl_process_cpu_seconds_total"), "the default process metrics");

  // No session id, ever: not as a label, not anywhere.
  assert.ok(!after.text.includes(session.id), "a session id appears in /metrics");

  await session.close();
  const closed = await scrape();
  assert.equal(closed.value("wasm_repl_sessions", { state: "live", tenant: "acme" }), 0);
  assert.equal(closed.value("wasm_repl_sessions_ended_total", { tenant: "acme", reason: "closed" }) - after.value("wasm_repl_sessions_ended_total", { tenant: "acme", reason: "closed" }), 1);
  // The server counts the socket gone once the closing handshake is over, a moment after the client.
  let gone = closed;
  for (let tries = 0; gone.value("wasm_repl_websocket_connections") !== before.value("wasm_repl_websocket_connections") && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gone = await scrape();
  }
  assert.equal(gone.value("wasm_repl_websocket_connections"), before.value("wasm_repl_websocket_connections"));
});

test("tenants outside METRICS_TENANTS are reported as other; invalid frames as invalid", async () => {
  const before = await scrape();
  const raw = await RawSocket.connect(server.url, "/v1/sessions", await server.token({ tenant: "globex-secret-customer" }));
  raw.send({ type: "no_such_frame" });
  raw.send("not json");
  assert.equal((await raw.next("error")).code, "bad_request");
  assert.equal((await raw.next("error")).code, "bad_request");
  raw.send({ type: "execute", id: "c1", code: "1 + 1" });
  assert.equal((await raw.next("result")).value, "2");
  const during = await scrape();
  assert.equal(during.value("wasm_repl_sessions", { state: "live", tenant: "other" }), 1);
  assert.equal(during.value("wasm_repl_sessions_opened_total", { tenant: "other" }) - before.value("wasm_repl_sessions_opened_total", { tenant: "other" }), 1);
  assert.equal(during.value("wasm_repl_cells_total", { tenant: "other", outcome: "ok" }) - before.value("wasm_repl_cells_total", { tenant: "other", outcome: "ok" }), 1);
  assert.equal(during.value("wasm_repl_websocket_frames_total", { type: "invalid", direction: "in" }) - before.value("wasm_repl_websocket_frames_total", { type: "invalid", direction: "in" }), 2);
  // The allowlisted tenant with no sessions is reported (at zero); the other tenant never by name.
  assert.equal(during.value("wasm_repl_sessions", { state: "live", tenant: "initech" }), 0);
  assert.ok(during.text.includes('tenant="initech"'));
  assert.ok(!during.text.includes("globex"), "a tenant outside METRICS_TENANTS is named in /metrics");
  assert.ok(!during.text.includes(raw.welcome.session_id));
  await raw.end();
});

test("promtool check metrics accepts the output", async (t) => {
  const { text } = await scrape();
  const found = spawnSync("promtool", ["--version"], { encoding: "utf8" });
  if (found.error) {
    // Not installed here (.ci/run installs it where apt works): nothing to check it with.
    t.diagnostic("promtool is not installed (Debian package prometheus): the exposition format was not checked by promtool");
    return;
  }
  const checked = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(checked.status, 0, `promtool check metrics failed:\n${checked.stdout}${checked.stderr}`);
});

test("METRICS_PORT serves /metrics on its own port; the main port then answers 404", async () => {
  const port = (separate.app.metricsServer!.address() as AddressInfo).port;
  assert.notEqual(`http://127.0.0.1:${port}`, separate.url);
  const own = await scrape(`http://127.0.0.1:${port}`);
  assert.ok(own.has("wasm_repl_cells_total"));
  const main = await fetch(`${separate.url}/metrics`);
  assert.equal(main.status, 404);
  assert.match(main.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(((await main.json()) as { code: string }).code, "not_found");
  const elsewhere = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(elsewhere.status, 404);
  // Two servers in one process keep their own registries: the other server's cells are not here.
  assert.equal(own.value("wasm_repl_cells_total", { tenant: "other", outcome: "ok" }), 0);
});
