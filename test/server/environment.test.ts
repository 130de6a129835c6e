// A session's environment variables: given when it is opened (POST /v1/sessions, the SDK's
// `env`), visible to its Python as os.environ and nowhere else, checked and bounded; and the
// server's own secrets (its LLM key, JWT secret, Redis URL) never among them.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { deleteKeys, TEST_REDIS_URL, uniqueKeyPrefix } from "../helpers/redis-store.ts";
import { startTestServer } from "../helpers/server.ts";

const canary = (name: string) => `${name.toLowerCase()}-canary-${randomBytes(8).toString("hex")}`;
const LLM_API_KEY = `sk-${canary("llm")}`;
const JWT_SECRET = canary("jwt").padEnd(40, "x");
const REDIS_KEY_PREFIX = `${uniqueKeyPrefix()}${canary("redis")}:`;
// In this process's environment too: a sandbox that inherited it would carry them along.
const SERVER_SECRETS = { LLM_API_KEY, JWT_SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX };
Object.assign(process.env, SERVER_SECRETS);
after(() => deleteKeys(TEST_REDIS_URL, REDIS_KEY_PREFIX));
const server = await startTestServer(SERVER_SECRETS);
const token = await server.token();

/** What a sandbox's os.environ holds before a session adds to it: Pyodide's own. */
const BASELINE = ["HOME", "LANG", "LD_LIBRARY_PATH", "LOGNAME", "PATH", "PWD", "PYTHONINSPECT", "USER"];

function open(body: unknown) {
  return fetch(`${server.url}/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

test("the variables a session is opened with are its os.environ, on top of Pyodide's own, and not its globals", async () => {
  const env = { GREETING: "hello", API_TOKEN: "t0ken=with=equals and spaces", EMPTY: "" };
  const session = await ReplSession.open(server.url, { token, env });
  const seen = await session.execute("import os, json\nprint(json.dumps(dict(os.environ)))");
  const environ = JSON.parse(seen.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(environ).sort(), [...BASELINE, ...Object.keys(env)].sort());
  for (const [name, value] of Object.entries(env)) assert.equal(environ[name], value);
  assert.equal(environ.HOME, "/home/pyodide");
  assert.equal((await session.execute("'GREETING' in globals(), os.getenv('GREETING')")).value, "(False, 'hello')");
  await session.close();
});

test("the server's LLM key, JWT secret and Redis settings reach no sandbox: not os.environ, not Emscripten's ENV", async () => {
  const session = await ReplSession.open(server.url, { token, env: { OWN: "mine" } });
  const places = ["dict(os.environ)", "dict(pyodide_js._module.ENV.object_entries())", "dict(pyodide_js._api.config.env.object_entries())"];
  for (const place of places) {
    const found = await session.execute(`import os, pyodide_js\n[s for s in ${JSON.stringify(Object.values(SERVER_SECRETS))} if s in str(${place})]`);
    assert.equal(found.value, "[]", place);
  }
  assert.equal((await session.execute("[k for k in os.environ if k in ('LLM_API_KEY', 'JWT_SECRET', 'REDIS_URL', 'REDIS_KEY_PREFIX')]")).value, "[]");
  await session.close();
  const stateless = await fetch(`${server.url}/execute`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ code: "import os\nsorted(os.environ)" }) });
  assert.equal(((await stateless.json()) as { value: string }).value, `[${BASELINE.map((name) => `'${name}'`).join(", ")}]`);
});

test("bad names, values that are no strings, too many or too large variables are refused with bad_request", async () => {
  const refusals: [unknown, RegExp][] = [
    [{ env: { "1ABC": "x" } }, /is not a variable name/],
    [{ env: { "A=B": "x" } }, /is not a variable name/],
    [{ env: { "": "x" } }, /is not a variable name/],
    [{ env: { A: 5 } }, /A must be a string/],
    [{ env: { A: "nul\u0000" } }, /NUL/],
    [{ env: Object.fromEntries(Array.from({ length: 101 }, (_, index) => [`V${index}`, "x"])) }, /101 variables, more than 100/],
    [{ env: { BIG: "x".repeat(65 * 1024) } }, /more than 65536/],
    [{ env: ["A=1"] }, /env must be a JSON object/],
    [{ envs: {} }, /envs is an unknown field/],
  ];
  for (const [body, message] of refusals) {
    const answer = await open(body);
    assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 80));
    const refusal = (await answer.json()) as { code: string; message: string };
    assert.equal(refusal.code, "bad_request");
    assert.match(refusal.message, message);
  }
  await assert.rejects(ReplSession.open(server.url, { token, env: { "not a name": "x" } }), (error: WasmReplError) => error.code === "bad_request");
  const opened = await open({});
  assert.equal(opened.status, 201, "no env is an empty one");
  const { session_id } = (await opened.json()) as { session_id: string };
  const session = await ReplSession.attach(server.url, session_id, { token });
  assert.equal((await session.execute("import os\n'GREETING' in os.environ")).value, "False");
  await session.close();
});

test("POST /v1/sessions needs sessions:create", async () => {
  const reader = await server.token({ scopes: ["sessions:read"] });
  const answer = await fetch(`${server.url}/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${reader}` }, body: "{}" });
  assert.equal(answer.status, 403);
});
