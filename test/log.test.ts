// Structured logs: one JSON object per line with the fields operators filter on; never a token or
// a cell's output, and the code only with LOG_CODE=true (capped at 4 KiB).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { ReplSession } from "../client/index.ts";
import { SCOPES } from "../server/auth/identity.ts";
import { TokenSigner } from "../server/auth/tokens.ts";
import { systemClock } from "../server/clock.ts";
import { composeServer } from "../server/compose.ts";
import { loadConfig } from "../server/config.ts";
import { codeFields, createLogger, LOGGED_CODE_BYTES } from "../server/log.ts";

interface Logged {
  server: string;
  lines: string[];
  token: string;
  /** A token signed with another secret: refused, and must not be logged either. */
  forged: string;
}

/** A server composed with a logger that records every line, as `npm start` would print them. */
async function loggedServer(env: Record<string, string>): Promise<Logged> {
  const secret = randomBytes(32).toString("hex");
  const config = loadConfig({ POOL_SIZE: "1", JWT_SECRET: secret, ...env, PORT: "0", HOST: "127.0.0.1", CACHE_DIR: process.env.CACHE_DIR });
  const lines: string[] = [];
  const { app, shutdown } = await composeServer(config, createLogger(config.logLevel, (line) => lines.push(line)), systemClock);
  const address = await app.listen();
  after(shutdown);
  const claims = { user: "alice", tenant: "acme", scopes: SCOPES.filter((scope) => scope !== "tenant:admin") };
  return {
    server: `http://127.0.0.1:${address.port}`,
    lines,
    token: await new TokenSigner(secret).sign(claims, 3600),
    forged: await new TokenSigner(randomBytes(32).toString("hex")).sign(claims, 3600),
  };
}

const CODE_MARKER = "code-marker-31415";
// The output it prints does not appear in the code, and the other way round.
const CELL = `# ${CODE_MARKER}\nprint("".join(["output", "-marker-", "27182"]))\nsecret_value = "".join(["variable", "-marker-", "16180"])`;
const OUTPUT_MARKERS = ["output-marker-27182", "variable-marker-16180"];

/** Runs the same cells over the WebSocket and POST /execute, a refused token and a bad cell. */
async function workload({ server, token, forged }: Logged): Promise<string> {
  const session = await ReplSession.open(server, { token });
  assert.equal((await session.execute(CELL)).stdout, "output-marker-27182\n");
  assert.equal((await session.execute(`raise ValueError("${CODE_MARKER}")`)).error?.type, "ValueError");
  const post = (body: unknown, bearer = token) =>
    fetch(`${server}/execute`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
  assert.equal(((await (await post({ code: CELL })).json()) as { stdout: string }).stdout, "output-marker-27182\n");
  assert.equal((await post({ code: CELL, session_id: session.id })).status, 200);
  assert.equal((await post({ code: CELL }, forged)).status, 401);
  const id = session.id;
  await session.close();
  return id;
}

function parsed(lines: string[]): Record<string, unknown>[] {
  return lines.map((line) => {
    assert.ok(!line.includes("\n"), "one line per object");
    const object = JSON.parse(line) as Record<string, unknown>;
    assert.equal(typeof object.level, "string");
    assert.ok(!Number.isNaN(Date.parse(object.time as string)), "time is an ISO date");
    assert.equal(typeof object.event, "string");
    return object;
  });
}

const quiet = await loggedServer({ LOG_LEVEL: "debug" });
const verbose = await loggedServer({ LOG_LEVEL: "info", LOG_CODE: "true" });

test("LOG_CODE=false: lines carry session, tenant, cell, duration and outcome, but no code, output or token", async () => {
  const sessionId = await workload(quiet);
  const objects = parsed(quiet.lines);
  const text = quiet.lines.join("\n");
  for (const secret of [CODE_MARKER, ...OUTPUT_MARKERS, quiet.token, quiet.forged]) assert.ok(!text.includes(secret), `the log contains ${secret.slice(0, 20)}...`);
  for (const fragment of [quiet.token.split(".")[2]!, quiet.forged.split(".")[2]!]) assert.ok(!text.includes(fragment), "a token's signature is in the log");

  const cells = objects.filter((object) => object.event === "cell_finished");
  assert.equal(cells.length, 4);
  assert.deepEqual(cells.map((cell) => cell.outcome), ["ok", "error", "ok", "ok"]);
  for (const cell of cells) {
    assert.equal(cell.tenant, "acme");
    assert.equal(typeof cell.duration_ms, "number");
    assert.ok(!("code" in cell));
  }
  const inSession = cells.filter((cell) => cell.session_id === sessionId);
  assert.equal(inSession.length, 3, "the WebSocket cells and the POST /execute with session_id");
  for (const cell of inSession) assert.equal(typeof cell.cell_id, "string");
  assert.equal(cells.filter((cell) => cell.session_id === null).length, 1, "POST /execute without a session");

  const opened = objects.find((object) => object.event === "session_opened");
  assert.deepEqual([opened?.session_id, opened?.tenant], [sessionId, "acme"]);
  const ended = objects.find((object) => object.event === "session_ended");
  assert.deepEqual([ended?.session_id, ended?.tenant, ended?.reason], [sessionId, "acme", "closed"]);
  assert.equal(typeof ended?.duration_ms, "number");
  assert.deepEqual(
    objects.filter((object) => object.event === "auth_failed").map((object) => object.reason),
    ["bad_signature"],
  );
  assert.ok(objects.some((object) => object.level === "debug"), "LOG_LEVEL=debug lets debug lines through");
});

test("LOG_CODE=true: cell_finished carries the code, still never its output or a token", async () => {
  await workload(verbose);
  const objects = parsed(verbose.lines);
  const text = verbose.lines.join("\n");
  for (const secret of [...OUTPUT_MARKERS, verbose.token, verbose.forged]) assert.ok(!text.includes(secret), `the log contains ${secret.slice(0, 20)}...`);
  const cells = objects.filter((object) => object.event === "cell_finished");
  assert.equal(cells.length, 4);
  assert.deepEqual(cells.map((cell) => cell.code), [CELL, `raise ValueError("${CODE_MARKER}")`, CELL, CELL]);
  // Only cell_finished carries it.
  assert.deepEqual(objects.filter((object) => "code" in object).map((object) => object.event), ["cell_finished", "cell_finished", "cell_finished", "cell_finished"]);
  assert.ok(!objects.some((object) => object.level === "debug"), "LOG_LEVEL=info drops debug lines");
});

test("logged code is cut to 4 KiB on a character boundary", () => {
  assert.deepEqual(codeFields("print(1)", false), {});
  assert.deepEqual(codeFields("print(1)", true), { code: "print(1)" });
  const long = "x = '" + "é".repeat(3000) + "'";
  const { code, code_truncated } = codeFields(long, true) as { code: string; code_truncated: boolean };
  assert.equal(code_truncated, true);
  assert.ok(Buffer.byteLength(code) <= LOGGED_CODE_BYTES);
  assert.ok(Buffer.byteLength(code) >= LOGGED_CODE_BYTES - 1);
  assert.ok(long.startsWith(code), "a prefix of the code, with no broken character");
});
