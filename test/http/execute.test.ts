// The original guide's HTTP API, with its curl examples as they are written there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession } from "../../client/index.ts";
import { startTestServer } from "../helpers/server.ts";

const server = await startTestServer({ POOL_SIZE: "2" });
const token = await server.token();

function post(body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/execute`, { method: "POST", headers: { "Content-Type": "application/json", authorization: `Bearer ${token}`, ...headers }, body });
}

test("the guide's example request returns the guide's example response", async () => {
  // The -d argument of the guide's curl example, byte for byte.
  const body = `{
    "code": "print(\\"Hello from WASM!\\")\\nx = 42\\ny = 58\\nresult = x + y",
    "context": {},
    "timeout": 30
  }`;
  const response = await post(body);
  assert.equal(response.status, 200);
  const answer = (await response.json()) as Record<string, unknown>;
  assert.equal(answer.success, true);
  assert.equal(answer.stdout, "Hello from WASM!\n");
  assert.equal(answer.stderr, "");
  assert.deepEqual(answer.locals, { x: 42, y: 58, result: 100 });
  assert.equal(typeof answer.execution_time, "number");
  assert.equal(answer.error, null);
});

test("the guide's local test example works, without a timeout", async () => {
  const answer = (await (await post(`{"code": "print(\\"Test\\")", "context": {}}`)).json()) as Record<string, unknown>;
  assert.equal(answer.stdout, "Test\n");
});

test("context values become Python variables; each call without session_id starts fresh", async () => {
  const first = (await (await post(JSON.stringify({ code: "total = sum(numbers) * factor", context: { numbers: [1, 2, 3], factor: 2 } }))).json()) as { locals: Record<string, unknown> };
  assert.equal(first.locals.total, 12);
  const second = (await (await post(JSON.stringify({ code: "'total' in globals()" }))).json()) as { value: string };
  assert.equal(second.value, "False");
});

test("a Python error or a timeout is HTTP 200 with success false and error set", async () => {
  const failed = (await (await post(JSON.stringify({ code: "1/0" }))).json()) as { success: boolean; error: string };
  assert.equal(failed.success, false);
  assert.match(failed.error, /ZeroDivisionError: division by zero/);
  const timedOut = await post(JSON.stringify({ code: "while True: pass", timeout: 0.3 }));
  assert.equal(timedOut.status, 200);
  assert.match(((await timedOut.json()) as { error: string }).error, /TimeoutError/);
});

test("with session_id the code runs in that persistent session", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.execute("kept = 41");
  const answer = (await (await post(JSON.stringify({ code: "kept += 1", session_id: session.id }))).json()) as { locals: Record<string, unknown> };
  assert.equal(answer.locals.kept, 42);
  assert.equal((await session.execute("kept")).value, "42");
  const other = await server.token({ tenant: "other" });
  const foreign = await post(JSON.stringify({ code: "kept", session_id: session.id }), { authorization: `Bearer ${other}` });
  assert.equal(foreign.status, 404);
  await session.close();
});

test("every malformed body is a 400 naming the problem; auth failures are 401/403", async () => {
  const cases: [string, RegExp][] = [
    ["{not json", /not valid JSON/],
    ["[1]", /must be a JSON object/],
    ["{}", /code must be a string; it is missing/],
    [`{"code": 5}`, /code must be a string; got 5/],
    [`{"code": "1", "context": [1]}`, /context must be a JSON object/],
    [`{"code": "1", "timeout": -5}`, /timeout must be a positive number/],
    [`{"code": "1", "timeout": "30"}`, /timeout must be a positive number/],
    [`{"code": "1", "session_id": 7}`, /session_id must be a string/],
    [`{"code": "1", "extra": true}`, /extra is an unknown field/],
    [`{"code": "1", "context": {"not a name": 1}}`, /context: not assignable variable names/],
  ];
  for (const [body, expected] of cases) {
    const response = await post(body);
    assert.equal(response.status, 400, body);
    const answer = (await response.json()) as { code: string; message: string };
    assert.equal(answer.code, "bad_request");
    assert.match(answer.message, expected);
  }
  assert.equal((await post(`{"code": "1"}`, { authorization: "" })).status, 401);
  const readOnly = await server.token({ scopes: ["sessions:read"] });
  assert.equal((await post(`{"code": "1"}`, { authorization: `Bearer ${readOnly}` })).status, 403);
});
