// A sandbox's working directory from the host (Sandbox.file): files the host writes are Python's
// to open and the other way round; what is not a regular file, what is missing or too large, and a
// write past the memory cap each fail with their reason. A snapshot carries the directory, and
// os.environ gets what the host sets.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { decodeSnapshot, encodeSnapshot } from "../../server/hibernation/snapshot-codec.ts";
import { SandboxBusy, SnapshotFailed, type FileAnswer, type Sandbox } from "../../server/sandbox/sandbox.ts";
import { run, startTestRuntime } from "../helpers/sandboxes.ts";

const MIB = 1024 * 1024;
const runtime = await startTestRuntime({ poolSize: 1, limits: { memoryMb: 64 } });
const base = await readFile(runtime.environment.snapshotPath);

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (answer: FileAnswer) => Buffer.from(answer.body ?? []).toString();

async function value(sandbox: Sandbox, code: string): Promise<string | null> {
  const result = await run(sandbox, code);
  assert.equal(result.error, null, result.error?.traceback);
  return result.value;
}

test("a file the host writes is Python's to read, and one Python writes is the host's; both are listed with their sizes", async () => {
  const sandbox = await runtime.pool.take();
  assert.deepEqual((await sandbox.file({ kind: "write", path: "data/in.txt" }, bytes("hello"))).reply, { kind: "done" });
  assert.equal(await value(sandbox, "import os\nos.getcwd(), open('data/in.txt').read()"), "('/home/pyodide', 'hello')");
  await value(sandbox, "with open('out.bin', 'wb') as f: f.write(bytes(range(256)) * 4)");
  const read = await sandbox.file({ kind: "read", path: "out.bin", max_bytes: MIB });
  assert.equal(read.reply.kind, "content");
  assert.deepEqual([...read.body!.subarray(0, 4)], [0, 1, 2, 3]);
  assert.equal(read.body!.byteLength, 1024);
  assert.deepEqual((await sandbox.file({ kind: "list", path: "" })).reply, {
    kind: "listing",
    files: [
      { path: "data/in.txt", size: 5 },
      { path: "out.bin", size: 1024 },
    ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    truncated: false,
  });
  assert.deepEqual((await sandbox.file({ kind: "delete", path: "data/in.txt" })).reply, { kind: "done" });
  assert.equal(await value(sandbox, "os.path.exists('data/in.txt'), os.path.isdir('data')"), "(False, True)");
  await sandbox.close();
});

test("a missing file, a directory, a link and a file over the read's limit each fail with their reason", async () => {
  const sandbox = await runtime.pool.take();
  await value(sandbox, "import os\nos.makedirs('dir/sub')\nopen('big', 'w').write('x' * 100)\nos.symlink('/lib', 'link')");
  const failure = async (...request: Parameters<Sandbox["file"]>) => {
    const { reply } = await sandbox.file(...request);
    return reply.kind === "failed" ? reply.failure : reply.kind;
  };
  assert.equal(await failure({ kind: "read", path: "nothing", max_bytes: MIB }), "missing");
  assert.equal(await failure({ kind: "delete", path: "dir/nothing" }), "missing");
  assert.equal(await failure({ kind: "read", path: "dir", max_bytes: MIB }), "not_a_file");
  assert.equal(await failure({ kind: "write", path: "dir/sub" }, bytes("x")), "not_a_file");
  assert.equal(await failure({ kind: "write", path: "big/inside" }, bytes("x")), "not_a_file");
  assert.equal(await failure({ kind: "read", path: "link/python3.14/os.py", max_bytes: MIB }), "not_a_file", "a link is not followed");
  assert.equal(await failure({ kind: "write", path: "link" }, bytes("x")), "not_a_file");
  assert.equal(await failure({ kind: "read", path: "big", max_bytes: 99 }), "too_large");
  assert.equal(await failure({ kind: "list", path: "nowhere" }), "missing");
  assert.equal(await value(sandbox, "os.path.islink('link'), open('big').read(3)"), "(True, 'xxx')", "nothing was changed");
  await sandbox.close();
});

test("files share the memory cap with the heap: a write past it fails, and nothing is written", async () => {
  const sandbox = await runtime.pool.take();
  const chunk = new Uint8Array(12 * MIB);
  assert.equal((await sandbox.file({ kind: "write", path: "one" }, chunk)).reply.kind, "done");
  const refused = (await sandbox.file({ kind: "write", path: "two" }, new Uint8Array(20 * MIB))).reply;
  assert.equal(refused.kind === "failed" && refused.failure, "full");
  assert.match(refused.kind === "failed" ? refused.message : "", /more than its 64\.0 MiB/);
  assert.equal((await sandbox.file({ kind: "write", path: "one" }, chunk)).reply.kind, "done", "replacing a file counts it once");
  assert.equal(await value(sandbox, "import os\nsorted(os.listdir('.'))"), "['one']");
  await sandbox.close();
});

test("a file request waits for no cell: during one it is refused", async () => {
  const sandbox = await runtime.pool.take();
  const cell = run(sandbox, "import time\ntime.sleep(0.5)");
  await assert.rejects(sandbox.file({ kind: "list", path: "" }), SandboxBusy);
  await cell;
  await sandbox.close();
});

test("a guest that answers a read with more bytes than it was asked for is ended", async () => {
  const sandbox = await runtime.pool.take();
  await sandbox.file({ kind: "write", path: "small" }, bytes("abc"));
  // The cell swaps the file system's readFile, as Python can: the host holds the guest to the request.
  await value(sandbox, "import pyodide_js\nfrom pyodide.ffi import create_proxy, to_js\npyodide_js.FS.readFile = create_proxy(lambda *args: to_js(b'x' * 4096))");
  await assert.rejects(sandbox.file({ kind: "read", path: "small", max_bytes: 100 }), /protocol_violation/);
  assert.equal((await sandbox.exited).cause, "protocol_violation");
});

test("a snapshot carries the working directory, empty directories included and links left out; the restored session reads its files", async () => {
  const sandbox = await runtime.pool.take();
  await sandbox.file({ kind: "write", path: "notes/a.txt" }, bytes("kept"));
  await value(sandbox, "import os\nos.makedirs('empty/deeper')\nopen('made.bin', 'wb').write(bytes(range(256)))\nos.symlink('notes/a.txt', 'alias')\nopen('/tmp/elsewhere', 'w').write('not kept')");
  const encoded = await encodeSnapshot(await sandbox.snapshot(), base);
  const restored = await runtime.restore(await decodeSnapshot(encoded, base));
  assert.equal(
    await value(restored, "import os\nopen('notes/a.txt').read(), list(open('made.bin', 'rb').read()[:3]), os.path.isdir('empty/deeper'), os.path.lexists('alias'), os.path.exists('/tmp/elsewhere')"),
    "('kept', [0, 1, 2], True, False, False)",
  );
  assert.equal(text(await restored.file({ kind: "read", path: "notes/a.txt", max_bytes: MIB })), "kept");
  await Promise.all([sandbox.close(), restored.close()]);
});

test("a session whose files and heap outgrow the cap together is not snapshotted, and keeps running", async () => {
  const sandbox = await runtime.pool.take();
  await value(sandbox, "with open('huge', 'wb') as f:\n    for _ in range(40): f.write(b'x' * 1024 * 1024)\nkept = 1");
  await assert.rejects(sandbox.snapshot(), (error: Error) => error instanceof SnapshotFailed && /working directory's files/.test(error.message));
  assert.equal(await value(sandbox, "kept"), "1");
  await sandbox.close();
});

test("os.environ gets the variables the host sets, keeps them through a snapshot, and names no path of the host", async () => {
  const sandbox = await runtime.pool.take();
  assert.equal(await sandbox.setEnv({ GREETING: "hello", API_TOKEN: "t0ken=with=equals" }), null);
  assert.equal(await value(sandbox, "import os\nos.environ['GREETING'], os.getenv('API_TOKEN'), '_' in os.environ"), "('hello', 't0ken=with=equals', False)");
  const restored = await runtime.restore(await sandbox.snapshot());
  assert.equal(await value(restored, "import os\nos.environ.get('GREETING')"), "'hello'");
  await Promise.all([sandbox.close(), restored.close()]);
});
