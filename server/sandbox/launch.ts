// How a sandbox process is started: which binary, which files it may read, which flags.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ProcessSettings } from "./ipc.ts";

const require = createRequire(import.meta.url);

export interface RuntimeFiles {
  deno: string;
  /** Directory of the npm `pyodide` package, with a trailing slash as Pyodide wants its indexURL. */
  pyodideDir: string;
  pyodideVersion: string;
  /** The CPython version that Pyodide release is built from ("3.14.2"). */
  pythonVersion: string;
  /** server/sandbox: the guest code and the frame codec it imports. */
  sandboxDir: string;
  guestMain: string;
  bootstrap: string;
  worker: string;
  ipc: string;
}

export function locateRuntimeFiles(): RuntimeFiles {
  const sandboxDir = dirname(fileURLToPath(import.meta.url));
  const pyodideDir = dirname(require.resolve("pyodide/package.json")) + "/";
  // The deno package's own resolver finds the binary its platform package installed.
  const deno = (require("deno/install_api.cjs") as { runInstall(): string }).runInstall();
  return {
    deno,
    pyodideDir,
    pyodideVersion: (require("pyodide/package.json") as { version: string }).version,
    pythonVersion: (require("pyodide/pyodide-lock.json") as { info: { python: string } }).info.python,
    sandboxDir,
    guestMain: join(sandboxDir, "guest", "main.ts"),
    bootstrap: join(sandboxDir, "guest", "bootstrap.py"),
    worker: join(sandboxDir, "guest", "worker.ts"),
    ipc: join(sandboxDir, "ipc.ts"),
  };
}

const UNCREATABLE_DENO_DIR = "/dev/null/deno";

export interface LaunchCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * Deny by default: no prompt, reads only of Pyodide, the guest code and the snapshot (every
 * interpreter's worker revokes even those before it loads a snapshot); no net, write, env, run,
 * ffi or sys; no eval. Workers get permissions of their own (--unstable-worker-options), so a
 * worker's revocation leaves the process able to start the next one.
 * The environment is built from scratch so no server secret can leak into it.
 */
export function launchCommand(files: RuntimeFiles, jsHeapMb: number, settings: ProcessSettings): LaunchCommand {
  const readable = [files.pyodideDir, files.sandboxDir, settings.snapshotPath].join(",");
  return {
    command: files.deno,
    args: [
      "run",
      "--no-prompt",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--no-npm",
      "--quiet",
      "--unstable-worker-options",
      `--allow-read=${readable}`,
      // --max-old-space-size bounds each worker's isolate. One garbage-collector thread: the
      // parallel ones cost each new interpreter about a third more CPU than they save.
      `--v8-flags=--disallow-code-generation-from-strings,--max-old-space-size=${jsHeapMb},--expose-gc,--single-threaded-gc`,
      files.guestMain,
      JSON.stringify(settings),
    ],
    env: {
      // A directory that cannot exist (its parent is a device): Deno keeps its caches (transpiled
      // guest code, V8 code) in memory, and nothing that lives under DENO_DIR without a permission
      // (the Cache API's files) can reach the host's disk, from any sandbox, on any path.
      DENO_DIR: UNCREATABLE_DENO_DIR,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
      // Returns freed large blocks to the OS: tens of MiB less resident per sandbox.
      MALLOC_MMAP_THRESHOLD_: "131072",
    },
  };
}
