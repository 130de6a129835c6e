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
    [`{"code": "1", "files": ["a"]}`, /files must be a JSON object/],
    [`{"code": "1", "files": {"a.txt": "not base64!"}}`, /files: "a\.txt" must be the file's bytes in base64/],
    [`{"code": "1", "files": {"a.txt": 5}}`, /must be the file's bytes in base64/],
    [`{"code": "1", "files": {"../escape.txt": "eA=="}}`, /files: "\.\.\/escape\.txt": .* has a \. or \.\. segment/],
    [`{"code": "1", "files": {"/etc/passwd": "eA=="}}`, /is outside the session's working directory/],
    [`{"code": "1", "env": {"1X": "y"}}`, /is not a variable name/],
    [`{"code": "1", "env": {"X": 1}}`, /X must be a string/],
    [`{"code": "1", "env": {"X": "1"}, "session_id": "abc"}`, /env is given when a session opens/],
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

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64").toString();

interface FilesAnswer {
  success: boolean;
  value: string | null;
  error: string | null;
  files: Record<string, string>;
  files_omitted: string[];
}

test("files go in as base64 before the code runs, and what it leaves in outputs/ comes back; env is its os.environ", async () => {
  const code = [
    "import os, json",
    "rows = open('data/in.csv').read().splitlines()",
    "raw = open('blob.bin', 'rb').read()",
    "os.makedirs('outputs/deep', exist_ok=True)",
    "open('outputs/summary.json', 'w').write(json.dumps({'rows': len(rows), 'bytes': list(raw), 'who': os.environ['WHO']}))",
    "open('outputs/deep/copy.csv', 'w').write(rows[0])",
    "open('not-an-output.txt', 'w').write('stays')",
    "sorted(os.listdir('outputs'))",
  ].join("\n");
  const answer = (await (await post(JSON.stringify({ code, files: { "data/in.csv": b64("a,b\n1,2\n3,4\n"), "blob.bin": Buffer.from([0, 200, 255]).toString("base64") }, env: { WHO: "guide" } }))).json()) as FilesAnswer;
  assert.equal(answer.error, null);
  assert.equal(answer.value, "['deep', 'summary.json']");
  assert.deepEqual(Object.keys(answer.files), ["outputs/deep/copy.csv", "outputs/summary.json"]);
  assert.deepEqual(JSON.parse(unb64(answer.files["outputs/summary.json"]!)), { rows: 3, bytes: [0, 200, 255], who: "guide" });
  assert.equal(unb64(answer.files["outputs/deep/copy.csv"]!), "a,b");
  assert.deepEqual(answer.files_omitted, []);
  const empty = (await (await post(JSON.stringify({ code: "import os\nos.path.isdir('outputs'), 'WHO' in os.environ" }))).json()) as FilesAnswer;
  assert.equal(empty.value, "(True, False)", "outputs/ is there from the start; nothing is left from the request before");
  assert.deepEqual(empty.files, {});
});

test("the files of outputs/ come back up to MAX_FILE_BYTES in all; the rest are named in files_omitted", async () => {
  const code = "for name in 'abc':\n    with open(f'outputs/{name}.bin', 'wb') as f: f.write(bytes(7 * 1024 * 1024))";
  const answer = (await (await post(JSON.stringify({ code }))).json()) as FilesAnswer;
  assert.equal(answer.success, true, answer.error ?? "");
  assert.deepEqual(Object.keys(answer.files), ["outputs/a.bin", "outputs/b.bin"]);
  assert.equal(Buffer.from(answer.files["outputs/a.bin"]!, "base64").byteLength, 7 * 1024 * 1024);
  assert.deepEqual(answer.files_omitted, ["outputs/c.bin"]);
});

test("with session_id the files are written into the session, and stay there", async () => {
  const session = await ReplSession.open(server.url, { token });
  const answer = (await (await post(JSON.stringify({ code: "open('outputs/out.txt', 'w').write(open('in.txt').read().upper())", session_id: session.id, files: { "in.txt": b64("shout") } }))).json()) as FilesAnswer;
  assert.equal(answer.success, true, answer.error ?? "");
  assert.deepEqual(answer.files, { "outputs/out.txt": b64("SHOUT") });
  assert.deepEqual((await session.listFiles()).files.map((file) => file.path), ["in.txt", "outputs/out.txt"]);
  const refused = await post(JSON.stringify({ code: "1", session_id: session.id, files: { "/lib/x": b64("x") } }));
  assert.equal(refused.status, 400);
  assert.equal((await session.execute("import os\nos.path.exists('/lib/x')")).value, "False");
  await session.close();
});
