// Untrusted Python must not read or write the host's files. Pyodide's Node file system
// (NODEFS), mountNodeFS and its loaders all reach the host's disk through Deno, which holds
// no read or write permission once the sandbox has booted.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadConfig } from "../../server/config.ts";
import { startTestRuntime } from "../helpers/sandboxes.ts";
import {
  assertContained,
  assertGlobalNotCaught,
  assertObtainedOnly,
  assertRaises,
  assertRefused,
  attack,
  attackExpression,
  attackFuture,
  cacheCall,
  PASSWD_LINE,
  reachableNames,
  sharedSandbox,
  WORKER_GLOBAL,
} from "./attack.ts";

const runtime = await startTestRuntime();
const target = sharedSandbox(runtime);
const { files, snapshotPath } = runtime.environment;

// A host directory of this test's own: whatever the sandbox manages to create shows up here.
const hostDir = mkdtempSync(join(tmpdir(), "wasm-repl-files-"));
after(() => rmSync(hostDir, { recursive: true, force: true }));

const SETUP = `
import os, pyodide_js
from pyodide.ffi import to_js, create_proxy
FS = pyodide_js.FS
NODEFS = FS.filesystems.NODEFS
`;

/** Files under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => readFileSync(path).includes(needle));
}

/** Names in the test's host directory that the sandbox may have created (everything but `planted`). */
function createdOnHost(): string[] {
  return readdirSync(hostDir).filter((name) => !name.startsWith("planted"));
}

/** Python that mounts the host's `hostPath` at `mountPoint` through NODEFS. */
function mountNodefs(hostPath: string, mountPoint: string): string {
  return `${SETUP}
def attack():
    os.makedirs(${JSON.stringify(mountPoint)}, exist_ok=True)
    FS.mount(NODEFS, to_js({"root": ${JSON.stringify(hostPath)}}), ${JSON.stringify(mountPoint)})
    return os.listdir(${JSON.stringify(mountPoint)})`;
}

describe("Python cannot reach the host's files", () => {
  test("FS.mount of NODEFS at the host's root is refused and shows nothing", async () => {
    const sandbox = await target();
    await assertRefused(await attack(sandbox, mountNodefs("/", "/mnt/host")), PASSWD_LINE);
    if (sandbox.alive) assertObtainedOnly(await attackExpression(sandbox, `os.listdir("/mnt/host")`, "import os"), "[]");
    await assertContained(sandbox);
  });

  test("mountNodeFS of /etc is refused and mounts nothing", async () => {
    const sandbox = await target();
    await assertRefused(await attackExpression(sandbox, `pyodide_js.mountNodeFS("/mnt/etc", "/etc")`, SETUP), PASSWD_LINE);
    if (sandbox.alive) assertObtainedOnly(await attackExpression(sandbox, `os.path.exists("/mnt/etc/passwd")`, "import os"), "False");
    await assertContained(sandbox);
  });

  test("NODEFS operations called directly on a forged node are refused", async () => {
    const sandbox = await target();
    const forgedNode = `${SETUP}
Object = to_js({}).constructor
def host_node(root):
    node = Object.new()
    node.parent = node
    node.name = "forged"
    node.mount = to_js({"opts": {"root": root}}, dict_converter=Object.fromEntries)
    return node
`;
    await assertRefused(await attackExpression(sandbox, `list(NODEFS.node_ops.readdir(host_node("/etc")))`, forgedNode), "passwd");
    await assertRefused(await attackExpression(sandbox, `NODEFS.node_ops.lookup(host_node("/etc"), "passwd")`, forgedNode), PASSWD_LINE);
    await assertContained(sandbox);
  });

  test("the loader's loadBinaryFile cannot read /etc/passwd, by path or file: URL", async () => {
    const sandbox = await target();
    for (const path of ["/etc/passwd", "file:///etc/passwd"]) {
      await assertRefused(await attackFuture(sandbox, `pyodide_js._api.loadBinaryFile(${JSON.stringify(path)})`, SETUP), PASSWD_LINE);
    }
    await assertContained(sandbox);
  });

  test("Emscripten's asyncLoad cannot read /etc/passwd", async () => {
    const sandbox = await target();
    await assertRefused(await attackFuture(sandbox, `pyodide_js._module.asyncLoad("/etc/passwd")`, SETUP), PASSWD_LINE);
    await assertContained(sandbox);
  });

  test("the files the sandbox was started with are unreadable once it booted (permissions revoked)", async () => {
    const sandbox = await target();
    // Text each file holds that no attack below contains.
    const contents: [string, string][] = [
      [files.guestMain, "MAX_HOST_FRAME"],
      [files.bootstrap, readFileSync(files.bootstrap, "utf8").split("\n").find((line) => line.startsWith("def "))!],
      [`${files.pyodideDir}pyodide-lock.json`, '"packages"'],
      [snapshotPath, ""],
    ];
    for (const [path, content] of contents) {
      const run = await attackFuture(sandbox, `pyodide_js._api.loadBinaryFile(${JSON.stringify(path)})`, SETUP);
      await assertRefused(run, ...(content ? [content] : []));
    }
    await assertContained(sandbox);
  });

  test("loadPackage cannot install a wheel from a host path", async () => {
    const sandbox = await target();
    const wheel = join(hostDir, "planted-1.0-py3-none-any.whl");
    writeFileSync(wheel, "the sandbox must not read this");
    const setup = `${SETUP}\nload_errors = []`;
    const loading = `pyodide_js.loadPackage(${JSON.stringify(wheel)}, errorCallback=create_proxy(load_errors.append), messageCallback=create_proxy(lambda message: None))`;
    await attackFuture(sandbox, loading, setup);
    const errors = await attackExpression(sandbox, `load_errors`);
    assert.ok(Array.isArray(errors.outcome?.value), `no error list: ${JSON.stringify(errors.outcome)}`);
    // The loader reports a failure for the package (which layer refuses it is not the point).
    assert.match((errors.outcome.value as string[]).join("\n"), /error occurred while loading planted/);
    assertRaises(await attackExpression(sandbox, `__import__("planted")`), /^ModuleNotFoundError: No module named 'planted'$/);
    await assertContained(sandbox);
  });

  test("a NODEFS mount of a host directory for writing is refused and nothing lands on the host", async () => {
    const sandbox = await target();
    await assertRefused(await attack(sandbox, mountNodefs(hostDir, "/mnt/hostdir")));
    // The mount point is only a directory of Pyodide's in-memory file system: writing there stays inside.
    const write = `${SETUP}
def attack():
    with open("/mnt/hostdir/escaped.txt", "w") as file:
        file.write("written by the sandbox")
    return os.listdir("/mnt/hostdir")`;
    if (sandbox.alive) assertObtainedOnly(await attack(sandbox, write), "['escaped.txt']");
    assert.deepEqual(createdOnHost(), []);
    await assertContained(sandbox);
  });

  test("mountNodeFS of a host directory for writing is refused, and writes stay in memory", async () => {
    const sandbox = await target();
    const write = `${SETUP}
def attack():
    try:
        pyodide_js.mountNodeFS("/mnt/hostdir2", ${JSON.stringify(hostDir)})
    except Exception as error:
        refusal = f"{type(error).__name__}: {error}"
    else:
        refusal = None
    os.makedirs("/mnt/hostdir2", exist_ok=True)
    with open("/mnt/hostdir2/escaped2.txt", "w") as file:
        file.write("written by the sandbox")
    return refusal`;
    const { outcome } = await attack(sandbox, write);
    assert.equal(typeof outcome?.value, "string", `mountNodeFS was not refused: ${JSON.stringify(outcome)}`);
    assert.deepEqual(createdOnHost(), []);
    await assertContained(sandbox);
  });

  test("Python's own file API sees only Pyodide's in-memory file system", async () => {
    const sandbox = await target();
    assertRaises(
      await attackExpression(sandbox, `open("/etc/passwd").read()`),
      /^FileNotFoundError: \[Errno 44\] No such file or directory: '\/etc\/passwd'$/,
    );
    const hostTopLevel = `sorted(set(os.listdir("/")) & {"etc", "usr", "var", "root", "work", "bin", "sbin", "opt", "srv"})`;
    assertObtainedOnly(await attackExpression(sandbox, hostTopLevel, "import os"), "[]");
    await assertContained(sandbox);
  });
});

describe("Python cannot reach the host's files through Deno's own APIs", () => {
  test("Deno's file API is out of reach: the global object cannot be caught, and nothing is read or written", async () => {
    const sandbox = await target();
    await assertGlobalNotCaught(sandbox);
    await assertRefused(await attackExpression(sandbox, `worker_global().Deno.readTextFileSync("/etc/passwd")`, WORKER_GLOBAL), PASSWD_LINE);
    const written = join(hostDir, "deno-write.txt");
    const write = `worker_global().Deno.writeTextFileSync(${JSON.stringify(written)}, "written by the sandbox")`;
    await assertRefused(await attackExpression(sandbox, write, WORKER_GLOBAL));
    assert.equal(existsSync(written), false, `${written} was created`);
    await assertContained(sandbox);
  });

  test("the Cache API is gone: neither the global object nor any object Python reaches offers it, and nothing lands on disk", async () => {
    const sandbox = await target();
    const marker = `cache-probe-${randomBytes(12).toString("hex")}`;
    const [name, url] = [JSON.stringify(marker), JSON.stringify(`https://wasm-repl.invalid/${marker}`)];
    // The capture route: caches on the caught global object.
    await assertGlobalNotCaught(sandbox);
    await assertRefused(await attackFuture(sandbox, ...cacheCall(`cache_store(${name}, ${url}, ${name})`)));
    // Every other route: the js module and the objects Pyodide exposes.
    const containers = ["js", "pyodide_js", "pyodide_js._api", "pyodide_js._module", "pyodide_js._module.FS"];
    assert.deepEqual(await reachableNames(sandbox, containers, ["caches", "CacheStorage", "Cache"]), []);
    // Deno keeps Cache API storage under DENO_DIR, which is the cache dir.
    const locationData = join(loadConfig({ CACHE_DIR: process.env.CACHE_DIR }).cacheDir, "deno", "location_data");
    assert.deepEqual(filesContaining(locationData, marker), [], "the sandbox wrote a file on the host");
    await assertContained(sandbox);
  });
});
