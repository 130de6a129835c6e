// A session's files over its REST routes and the SDK: a round trip, Python and the client
// sharing them in order with cells, paths that try to leave the working directory, the size
// limit, a full session, who may see them, and their end with the session.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplSession, WasmReplError } from "../../client/index.ts";
import { bodyOf, rawExchange } from "../helpers/raw-http.ts";
import { startTestServer } from "../helpers/server.ts";

const MIB = 1024 * 1024;
const MAX_FILE_BYTES = 16 * MIB;
// 64 MiB of memory: a fresh interpreter's heap takes about 38, leaving room for one largest file and not two.
const server = await startTestServer({ POOL_SIZE: "2", SESSION_MEMORY_MB: "64", MAX_FILE_BYTES: String(MAX_FILE_BYTES) });
const token = await server.token();

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

/** The error a promise rejects with, as `code: message`. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WasmReplError, String(error));
    return `${error.code}: ${error.message}`;
  }
  assert.fail("it was not refused");
}

/** A request as sent, escapes and all (fetch keeps percent-escapes; it resolves only bare dot segments). */
async function call(method: string, path: string, body?: string, bearer = token): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${server.url}${path}`, { method, body, headers: { authorization: `Bearer ${bearer}` } });
  const answer = response.headers.get("content-type") === "application/json" ? ((await response.json()) as { code?: string }) : (await response.arrayBuffer(), {});
  return { status: response.status, code: answer.code };
}

test("upload, list with sizes, download and delete: a round trip", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.uploadFile("data/numbers.csv", "a,b\n1,2\n");
  await session.uploadFile("blob.bin", new Uint8Array([0, 255, 10, 13]));
  await session.uploadFile("spaced name ü.txt", "unicode path");
  assert.deepEqual(await session.listFiles(), {
    files: [
      { path: "blob.bin", size: 4 },
      { path: "data/numbers.csv", size: 8 },
      { path: "spaced name ü.txt", size: 12 },
    ],
    truncated: false,
  });
  assert.equal(text(await session.downloadFile("data/numbers.csv")), "a,b\n1,2\n");
  assert.deepEqual([...(await session.downloadFile("blob.bin"))], [0, 255, 10, 13]);
  assert.equal(text(await session.downloadFile("spaced name ü.txt")), "unicode path");
  await session.uploadFile("data/numbers.csv", "replaced");
  assert.equal(text(await session.downloadFile("data/numbers.csv")), "replaced");
  await session.deleteFile("data/numbers.csv");
  assert.match(await refusal(session.downloadFile("data/numbers.csv")), /^file_not_found: there is no file data\/numbers\.csv/);
  assert.match(await refusal(session.deleteFile("data/numbers.csv")), /^file_not_found/);
  assert.match(await refusal(session.downloadFile("data")), /^bad_request: data is not a regular file/);
  await session.close();
});

test("Python reads what the client uploaded and writes what it downloads, in order with the cells", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.uploadFile("input.txt", "three words here");
  const counted = await session.execute("import os\nwords = len(open('input.txt').read().split())\nos.getcwd(), words");
  assert.equal(counted.value, "('/home/pyodide', 3)");
  // The download is queued behind the cell that writes the file: it sees what the cell wrote.
  const cell = session.execute("import time\ntime.sleep(0.3)\nwith open('report.txt', 'w') as f: f.write(f'{words} words')");
  const report = session.downloadFile("report.txt");
  assert.equal(text(await report), "3 words");
  assert.equal((await cell).error, null);
  await session.close();
});

test("paths that leave the working directory are refused with bad_request; an absolute path inside it is taken", async () => {
  const session = await ReplSession.open(server.url, { token });
  for (const path of ["../etc/passwd", "a/../../x", "./x", "/etc/passwd", "/home/pyodide/../x", "/home/pyodidex/y", "/", "/home/pyodide"]) {
    assert.match(await refusal(session.uploadFile(path, "x")), /^bad_request: /, path);
    assert.match(await refusal(session.downloadFile(path)), /^bad_request: /, path);
  }
  assert.match(await refusal(session.uploadFile("/lib/python3.14/os.py", "x")), /^bad_request: "\/lib\/python3\.14\/os\.py" is outside the session's working directory \/home\/pyodide/);
  for (const path of ["..", ".", ""]) assert.match(await refusal(session.deleteFile(path)), /^bad_request: .* names no file/, `the SDK refuses ${JSON.stringify(path)}`);
  await session.uploadFile("/home/pyodide/inside.txt", "in");
  assert.equal(text(await session.downloadFile("inside.txt")), "in");
  // As other clients send them: escaped slashes, NUL and broken escapes; and dot segments, bare or escaped, as only a raw client sends them.
  const base = `/v1/sessions/${session.id}/files`;
  for (const method of ["GET", "PUT", "DELETE"]) {
    for (const path of [`${base}/..%2F..%2Fetc%2Fpasswd`, `${base}/%2Fetc%2Fpasswd`, `${base}/..%2Fx`, `${base}/a%00b`, `${base}/%E0%A4%A`]) {
      assert.deepEqual(await call(method, path, method === "PUT" ? "x" : undefined), { status: 400, code: "bad_request" }, `${method} ${path}`);
    }
    for (const path of [`${base}/../../etc/passwd`, `${base}/%2e%2e/x`, `${base}/..`]) {
      const answer = await rawExchange(server.url, `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
      assert.equal((bodyOf(answer) as { code: string }).code, "bad_request");
    }
  }
  assert.equal((await session.execute("import os\nsorted(os.listdir('.')), os.path.exists('/etc/passwd')")).value, "(['inside.txt'], False)");
  await session.close();
});

test("a file over MAX_FILE_BYTES is refused with too_large, going up and coming down", async () => {
  const session = await ReplSession.open(server.url, { token });
  assert.match(await refusal(session.uploadFile("big.bin", new Uint8Array(MAX_FILE_BYTES + 1))), /^too_large: .*MAX_FILE_BYTES/);
  // Without a Content-Length the body is counted as it comes.
  const chunked = await fetch(`${server.url}/v1/sessions/${session.id}/files/streamed.bin`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}` },
    body: new ReadableStream({
      start(controller) {
        for (let sent = 0; sent <= MAX_FILE_BYTES; sent += MIB) controller.enqueue(new Uint8Array(MIB));
        controller.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(chunked.status, 413);
  assert.equal(chunked.headers.get("connection"), "close", "the unread rest of the body ends the connection");
  await session.uploadFile("at-limit.bin", new Uint8Array(MAX_FILE_BYTES));
  assert.deepEqual(await session.listFiles(), { files: [{ path: "at-limit.bin", size: MAX_FILE_BYTES }], truncated: false });
  await session.deleteFile("at-limit.bin");
  await session.execute("with open('made.bin', 'wb') as f:\n    for _ in range(17): f.write(bytes(1024 * 1024))");
  assert.match(await refusal(session.downloadFile("made.bin")), /^too_large: made\.bin is 17825792 bytes.*MAX_FILE_BYTES/);
  await session.close();
});

test("a session whose files and heap would pass its memory is full: quota_exceeded naming SESSION_MEMORY_MB", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.uploadFile("one.bin", new Uint8Array(MAX_FILE_BYTES));
  assert.match(await refusal(session.uploadFile("two.bin", new Uint8Array(MAX_FILE_BYTES))), /^quota_exceeded: the session is full: .*SESSION_MEMORY_MB/);
  await session.deleteFile("one.bin");
  await session.uploadFile("two.bin", new Uint8Array(MAX_FILE_BYTES));
  assert.deepEqual((await session.listFiles()).files, [{ path: "two.bin", size: MAX_FILE_BYTES }]);
  await session.close();
});

test("another user's request for the files answers session_not_found; reading needs sessions:read, writing sessions:execute", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.uploadFile("private.txt", "mine");
  const base = `/v1/sessions/${session.id}/files`;
  for (const bearer of [await server.token({ user: "bob" }), await server.token({ tenant: "initech" })]) {
    for (const [method, path] of [["GET", base], ["GET", `${base}/private.txt`], ["PUT", `${base}/x.txt`], ["DELETE", `${base}/private.txt`]] as const) {
      assert.deepEqual(await call(method, path, method === "PUT" ? "theirs" : undefined, bearer), { status: 404, code: "session_not_found" }, `${method} ${path}`);
    }
  }
  const reader = await server.token({ scopes: ["sessions:read"] });
  assert.equal((await call("GET", `${base}/private.txt`, undefined, reader)).status, 200);
  for (const [method, path] of [["PUT", `${base}/x.txt`], ["DELETE", `${base}/private.txt`]] as const) {
    assert.deepEqual(await call(method, path, method === "PUT" ? "x" : undefined, reader), { status: 403, code: "forbidden" }, `${method} ${path}`);
  }
  const admin = await server.token({ user: "root", scopes: ["tenant:admin"] });
  assert.equal((await call("GET", `${base}/private.txt`, undefined, admin)).status, 200, "a tenant admin may");
  assert.equal(text(await session.downloadFile("private.txt")), "mine");
  await session.close();
});

test("a session's files end with it: its routes answer session_expired, and no other session sees them", async () => {
  const session = await ReplSession.open(server.url, { token });
  await session.uploadFile("gone.txt", "soon");
  await session.close();
  assert.deepEqual(await call("GET", `/v1/sessions/${session.id}/files/gone.txt`), { status: 410, code: "session_expired" });
  const next = await ReplSession.open(server.url, { token });
  assert.deepEqual(await next.listFiles(), { files: [], truncated: false });
  assert.equal((await next.execute("import os\nos.path.exists('gone.txt')")).value, "False");
  await next.close();
});
