// Bytecode for repacked wheels, compiled by Pyodide's own Python in a real sandbox. Debian ships
// sources only (its .pyc files are made at install time, for the machine's Python), and a wheel on
// sys.path cannot store the bytecode its imports compile: without this, every session compiles a
// package again at its first import (sympy: seconds). Each .py gets a `.pyc` beside it, as
// zipimport looks for them, hash-based and unchecked (the wheel's sources never change), compiled
// under the path the wheel is mounted at (packages.py), so tracebacks name the right file.
import { silentLogger } from "../log.ts";
import { startSandboxRuntime } from "../sandbox/runtime.ts";
import type { SandboxLimits } from "../sandbox/sandbox.ts";
import { addWheel, writeLock, type Repacked } from "./build.ts";
import { openRepository, type LockFile } from "./lock.ts";

/** Output a compiling cell may send: the bytecode of the largest package, as base64 in JSON lines. */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;
/** Compiling a large package (sympy) takes more than a session's default heap. */
const MEMORY_MB = 2048;

function compilingCell(key: string, fileName: string): string {
  return `
import base64, importlib._bootstrap_external as external, importlib.util, json, micropip, zipfile
micropip.install(${JSON.stringify(key)})
path = ${JSON.stringify(`/lib/wheels/${fileName}`)}
with zipfile.ZipFile(path) as wheel:
    for name in wheel.namelist():
        if not name.endswith(".py"):
            continue
        source = wheel.read(name)
        try:
            code = compile(source, f"{path}/{name}", "exec", dont_inherit=True)
        except SyntaxError:
            continue  # a file no import reaches (Python 2 examples, templates): left as it is
        pyc = external._code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
        print(json.dumps([name + "c", base64.b64encode(pyc).decode()]))
`;
}

/** Rewrites each repacked package's wheel with its bytecode added, and its lock entry (a new sha256). */
export async function addBytecode(out: string, lock: LockFile, repacked: readonly Repacked[], cacheDir: string, limits: SandboxLimits, log: (line: string) => void): Promise<void> {
  const compiled = await compileBytecode(out, repacked, cacheDir, limits);
  for (const { key, source } of repacked) {
    const bytecode = [...compiled.get(key)!].map(([path, data]) => ({ path, data }));
    lock.packages[key] = addWheel({ ...source, files: [...source.files, ...bytecode] }, out, lock.packages[key]!.depends);
    log(`${lock.packages[key]!.name}: ${bytecode.length} modules compiled for Python ${lock.info.python}`);
  }
  writeLock(out, lock);
}

/** For each repacked package: the bytecode of its modules (path -> .pyc bytes). */
async function compileBytecode(dir: string, repacked: readonly Repacked[], cacheDir: string, limits: SandboxLimits): Promise<Map<string, Map<string, Buffer>>> {
  const repository = openRepository(dir);
  const runtime = await startSandboxRuntime({
    cacheDir,
    poolSize: 0,
    limits: { ...limits, maxOutputBytes: MAX_OUTPUT_BYTES, memoryMb: MEMORY_MB },
    log: silentLogger,
    packages: { dir: repository.dir, preload: [], digest: repository.digest },
  });
  const compiled = new Map<string, Map<string, Buffer>>();
  try {
    for (const { key } of repacked) {
      const sandbox = await runtime.start();
      try {
        const result = await sandbox.execute({ code: compilingCell(key, repository.lock.packages[key]!.file_name), timeoutMs: 600_000, locals: "none" });
        if (result.error) throw new Error(`compiling ${key} failed: ${result.error.type}: ${result.error.message}`);
        const files = result.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as [string, string]);
        compiled.set(key, new Map(files.map(([path, base64]) => [path, Buffer.from(base64, "base64")])));
      } finally {
        await sandbox.close();
      }
    }
  } finally {
    await runtime.close();
  }
  return compiled;
}
